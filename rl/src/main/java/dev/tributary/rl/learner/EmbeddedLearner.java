package dev.tributary.rl.learner;

import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.ExperienceHeader;
import dev.tributary.rl.env.Space;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

/**
 * The learner without its server, driven from the caller's thread: the same validation as a push to
 * {@code tributary learn} (header and payload), the same in-memory buffer, and the same training step
 * ({@link TrainingLoop}: drop what lags beyond {@code max_lag}, train on a full batch, publish the next
 * version). The simulator runs its actors against it on a virtual clock.
 *
 * <p>Call order: {@link #create}, then {@link #offer} and {@link #train} in any order from one thread,
 * then {@link #close}.
 */
public final class EmbeddedLearner implements AutoCloseable {
    private final String envId;
    private final Space actions;
    private final LearnerConfig config;
    private final ExperienceValidator validator;
    private final Recording buffer;
    private final Training training;
    private final Progress progress = new Progress();
    private final LearnerMetrics metrics = new LearnerMetrics();
    private final AtomicReference<ModelImage> published;
    private final TrainingLoop loop;
    private TensorMap weights;
    private long weightsVersion = -1;

    /** What became of an offered item. */
    public sealed interface Offer {}

    /** Stored for training; {@code lag} versions behind the current policy (by its oldest step). */
    public record Accepted(long lag) implements Offer {}

    /** Refused with the reason code and the one-line message the service would have answered. */
    public record Refused(String reason, String message) implements Offer {}

    /**
     * One training step: the items it trained on (in buffer order) and those it dropped first for lagging
     * beyond {@code max_lag}, and the version it published.
     */
    public record Step(List<String> trained, List<String> dropped, long version) {
        public Step {
            trained = List.copyOf(trained);
            dropped = List.copyOf(dropped);
        }
    }

    private EmbeddedLearner(String envId, Space observations, Space actions, LearnerConfig config) {
        this.envId = envId;
        this.actions = actions;
        this.config = config;
        this.validator = new ExperienceValidator(envId, observations, actions, config);
        this.buffer = new Recording(MemoryBuffer.inMemory(config.bufferItems()));
        this.training = new Training(config, observations, actions);
        this.published = new AtomicReference<>(ModelImage.of(0, training.policy().weights()));
        this.loop = new TrainingLoop(config, observations, actions, buffer, training, progress, metrics, published,
                w -> { throw new IllegalStateException(w); });
    }

    /** A fresh learner (version 0) for {@code envId} with these spaces. */
    public static EmbeddedLearner create(String envId, Space observations, Space actions, LearnerConfig config) {
        return new EmbeddedLearner(envId, observations, actions, config);
    }

    public LearnerConfig config() {
        return config;
    }

    /**
     * Validates {@code x}, pushed by {@code actorId} under {@code itemId} (a UUID), as the service validates a
     * push, and stores it. A full buffer refuses with reason {@code busy}.
     *
     * @param payload the item as it travels ({@link ExperienceFormat#toBytes})
     */
    public Offer offer(String itemId, String actorId, MemorySegment payload, Experience x) {
        ExperienceHeader h = ExperienceHeader.newBuilder()
                .setItemId(itemId)
                .setActorId(actorId)
                .setEnvId(envId)
                .setSteps(x.steps())
                .setEnvs(x.envs())
                .setMinPolicyVersion(x.minPolicyVersion())
                .setMaxPolicyVersion(x.maxPolicyVersion())
                .setPayloadBytes(payload.byteSize())
                .build();
        long current = version();
        try {
            validator.checkHeader(h, current);
            if (buffer.size() >= config.bufferItems()) {
                metrics.busy();
                return new Refused("busy", "busy: " + buffer.size() + " items wait for training (buffer_items "
                        + config.bufferItems() + ")");
            }
            Experience checked = validator.checkPayload(h, payload, current);
            if (!buffer.insert(itemId, checked.minPolicyVersion(), payload, 1.0).join()) {
                metrics.duplicate();
                return new Refused("duplicate", "item " + itemId + " was accepted before");
            }
            long lag = current - checked.minPolicyVersion();
            progress.add(checked.size(), IntStream.range(0, checked.size()).filter(checked::done)
                    .mapToDouble(i -> checked.episodeReturns()[i]).toArray());
            metrics.accepted(checked.size(), lag);
            return new Accepted(lag);
        } catch (Refusal r) {
            metrics.refused(r.reason());
            return new Refused(r.reason(), r.getMessage());
        }
    }

    /** {@link #offer} of an item not yet encoded. */
    public Offer offer(String itemId, String actorId, Experience x) {
        return offer(itemId, actorId, ExperienceFormat.toBytes(x, actions, Arena.ofAuto()), x);
    }

    /** One training step if a full batch (after dropping lagging items) is there. */
    public Optional<Step> train() {
        buffer.removals.clear();
        boolean stepped;
        try {
            stepped = loop.step();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while training", e);
        }
        List<List<String>> removed = buffer.removals;
        if (!stepped) {
            return Optional.empty();
        }
        // The loop removes the dropped items first (when there are any), then the batch it trained on.
        List<String> trained = removed.getLast();
        List<String> dropped = removed.size() > 1 ? removed.getFirst() : List.of();
        return Optional.of(new Step(trained, dropped, version()));
    }

    /** The published policy version. */
    public long version() {
        return published.get().version();
    }

    /** Bytes of the published policy as a pull carries it. */
    public long policyBytes() {
        return published.get().size();
    }

    /** The published policy's weights (the same map until the next version). */
    public TensorMap policyWeights() {
        if (weightsVersion != version()) {
            weights = training.policy().weights();
            weightsVersion = version();
        }
        return weights;
    }

    /** Environment steps in accepted items. */
    public long envSteps() {
        return progress.envSteps();
    }

    /** Episodes that ended in accepted items. */
    public long episodes() {
        return progress.episodes();
    }

    /** Mean return of the last 100 episodes (fewer before there were 100); NaN before the first. */
    public double meanReturn() {
        return progress.meanReturn();
    }

    /** Episodes the mean return is over: 100 once that many ended. */
    public int returnWindow() {
        return progress.windowSize();
    }

    public long trainSteps() {
        return training.steps();
    }

    /** Items dropped before training because they lagged beyond {@code max_lag} by then. */
    public long droppedItems() {
        return metrics.droppedTotal();
    }

    /** Items waiting for training. */
    public long bufferItems() {
        return buffer.size();
    }

    @Override
    public void close() {
        training.close();
        buffer.close();
    }

    /** The memory buffer, remembering each removal so that a step can tell what it trained on. */
    private static final class Recording implements ExperienceBuffer {
        private final MemoryBuffer inner;
        private final List<List<String>> removals = new ArrayList<>();

        Recording(MemoryBuffer inner) {
            this.inner = inner;
        }

        @Override
        public CompletableFuture<Boolean> insert(String id, long policyVersion, MemorySegment payload, double priority) {
            return inner.insert(id, policyVersion, payload, priority);
        }

        @Override
        public List<Item> sample(int n, Duration timeout) throws InterruptedException {
            return inner.sample(n, timeout);
        }

        @Override
        public CompletableFuture<Void> remove(List<String> ids) {
            removals.add(List.copyOf(ids));
            return inner.remove(ids);
        }

        @Override
        public boolean contains(String id) {
            return inner.contains(id);
        }

        @Override
        public String whyNotInsert() {
            return inner.whyNotInsert();
        }

        @Override
        public long size() {
            return inner.size();
        }

        @Override
        public void checkpoint(TensorMap callerState) {
            // nothing to keep: a simulated learner is not restarted
        }

        @Override
        public Optional<TensorMap> lastCallerState() {
            return Optional.empty();
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
