package dev.tributary.rl.learner;

import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.ExperienceHeader;
import dev.tributary.rl.env.Space;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.rl.experience.InvalidExperienceException;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.MemorySegment;
import java.util.UUID;

/**
 * Everything an experience item must pass before it reaches the buffer, as {@link Refusal}s whose
 * one-line message names the field and the rule and whose reason it is counted under: {@code malformed},
 * {@code env}, {@code shape}, {@code size}, {@code dtype}, {@code non_finite}, {@code action},
 * {@code observation}, {@code flags}, {@code version} (a version the learner never published) and
 * {@code lag} (older than {@code max_lag} versions).
 */
final class ExperienceValidator {
    static final int MAX_ID_CHARS = 128;
    static final int MAX_ENVS = 4096;

    private final String envId;
    private final Space observations;
    private final Space actions;
    private final LearnerConfig config;

    ExperienceValidator(String envId, Space observations, Space actions, LearnerConfig config) {
        this.envId = envId;
        this.observations = observations;
        this.actions = actions;
        this.config = config;
    }

    long maxItemBytes() {
        return config.maxItemBytes();
    }

    /** Checks the header against the learner's environment, limits and {@code current} version. */
    void checkHeader(ExperienceHeader h, long current) {
        String id = h.getItemId();
        if (id.length() != 36 || !isUuid(id)) {
            throw Refusal.invalid("malformed", "item_id \"" + abbreviate(id) + "\" is not a UUID");
        }
        if (h.getActorId().length() > MAX_ID_CHARS) {
            throw Refusal.invalid("malformed", "actor_id of " + h.getActorId().length() + " characters > " + MAX_ID_CHARS);
        }
        if (!h.getEnvId().equals(envId)) {
            throw Refusal.precondition("env", "env_id \"" + abbreviate(h.getEnvId()) + "\" != the learner's " + envId);
        }
        if (h.getSteps() != config.stepsPerItem()) {
            throw Refusal.invalid("shape", "steps " + h.getSteps() + " != steps_per_item " + config.stepsPerItem());
        }
        if (h.getEnvs() < 1 || h.getEnvs() > MAX_ENVS) {
            throw Refusal.invalid("shape", "envs " + h.getEnvs() + " outside [1, " + MAX_ENVS + "]");
        }
        if (h.getPayloadBytes() <= 0) {
            throw Refusal.invalid("malformed", "payload_bytes " + h.getPayloadBytes() + " <= 0");
        }
        if (h.getPayloadBytes() > config.maxItemBytes()) {
            throw Refusal.tooLarge("size", "payload_bytes " + h.getPayloadBytes() + " > max_item_bytes "
                    + config.maxItemBytes());
        }
        checkVersions(h.getMinPolicyVersion(), h.getMaxPolicyVersion(), current);
    }

    /** Checks that versions {@code [min, max]} were published and are within {@code max_lag} of {@code current}. */
    void checkVersions(long min, long max, long current) {
        if (min < 0 || min > max) {
            throw Refusal.invalid("version", "policy versions [" + min + ", " + max + "]: need 0 <= min <= max");
        }
        if (max > current) {
            throw Refusal.precondition("version", "policy version " + max + " is unknown (current " + current + ")");
        }
        if (current - min > config.maxLag()) {
            throw Refusal.precondition("lag", "lag " + (current - min) + " versions (policy " + min + ", current "
                    + current + ") > max_lag " + config.maxLag());
        }
    }

    /** Parses and checks the received payload of the item {@code h} announced. */
    Experience checkPayload(ExperienceHeader h, MemorySegment payload, long current) {
        TensorMap m;
        try {
            m = ModelImage.tensors(payload, "item " + h.getItemId());
        } catch (InvalidCheckpointException e) {
            throw Refusal.invalid("malformed", firstLine(e.getMessage()));
        }
        Experience x;
        try {
            x = ExperienceFormat.decode(m, observations, actions);
        } catch (InvalidExperienceException e) {
            throw Refusal.invalid(e.reason(), e.getMessage());
        }
        if (x.steps() != h.getSteps() || x.envs() != h.getEnvs()) {
            throw Refusal.invalid("shape", "payload of [" + x.steps() + ", " + x.envs() + "] steps != the header's ["
                    + h.getSteps() + ", " + h.getEnvs() + "]");
        }
        if (x.minPolicyVersion() != h.getMinPolicyVersion() || x.maxPolicyVersion() != h.getMaxPolicyVersion()) {
            throw Refusal.invalid("malformed", "policy_versions span [" + x.minPolicyVersion() + ", "
                    + x.maxPolicyVersion() + "] != the header's [" + h.getMinPolicyVersion() + ", "
                    + h.getMaxPolicyVersion() + "]");
        }
        checkVersions(x.minPolicyVersion(), x.maxPolicyVersion(), current);
        return x;
    }

    private static boolean isUuid(String s) {
        try {
            return UUID.fromString(s).toString().equalsIgnoreCase(s);
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    static String abbreviate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "…";
    }

    private static String firstLine(String m) {
        return m == null ? "unreadable payload" : m.lines().findFirst().orElse(m);
    }
}
