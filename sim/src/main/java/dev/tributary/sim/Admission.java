package dev.tributary.sim;

import dev.tributary.coordinator.strategy.Decision;
import dev.tributary.coordinator.strategy.Refused;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * What the coordinator does with a pushed update, minus the network and the disk: the same
 * {@link UpdateValidator} checks the header and the delta's safetensors image, the base version is
 * checked against the current one, and the same {@link Strategy} decides.
 */
final class Admission {
    /** The outcome of one push: taken in (possibly publishing), or refused with the coordinator's reason. */
    sealed interface Outcome {}

    /** Taken in at staleness τ = version − base; {@code decision} is Buffered or Published. */
    record Accepted(long staleness, Decision decision) implements Outcome {}

    /** Refused; {@code reason} is the code the coordinator counts refusals under. */
    record Rejected(String reason, String message) implements Outcome {}

    private final UpdateValidator validator;
    private final Strategy strategy;

    Admission(UpdateValidator validator, Strategy strategy) {
        this.validator = validator;
        this.strategy = strategy;
    }

    /**
     * Offers one update whose delta travels as the safetensors {@code image}.
     *
     * @param worker  the client that pushed it
     * @param metrics the worker's training metrics
     */
    Outcome offer(String id, String worker, long base, long examples, int steps, Map<String, Double> metrics, MemorySegment image) {
        TensorMap delta;
        try {
            validator.checkHeader(id, examples, steps, metrics.size(), image.byteSize(), "safetensors");
            delta = validator.checkDelta(image);
            UpdateValidator.checkBaseVersion(base, strategy.version());
        } catch (Refusal r) {
            return new Rejected(r.reason(), r.getMessage());
        }
        long current = strategy.version();
        Decision d = strategy.onUpdate(new Update(id, base, examples, steps, delta, metrics, worker));
        if (d instanceof Refused r) {
            return new Rejected(r.code(), r.reason());
        }
        return new Accepted(current - base, d);
    }
}
