package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.Objects;

/**
 * How a strategy combines the deltas it holds into one: the weighted mean by default, or any merge method
 * of the toolkit by name, the same code the command line runs on checkpoints. Strategies decide when and
 * with what weights; the aggregator only computes. Configured with {@code aggregator: <name>} and
 * optionally {@code aggregator_params: {…}}.
 */
public interface Aggregator {

    /** The name it was configured with, e.g. {@code mean} or {@code median}. */
    String name();

    /**
     * Combines the inputs into one delta.
     *
     * @param base   the current weights the deltas apply to (f32)
     * @param inputs at least one delta with base's tensor names and shapes, and a weight > 0
     * @return the aggregate delta Δ, with base's names and shapes, in fresh memory
     */
    TensorMap aggregate(TensorMap base, List<Input> inputs);

    /**
     * One delta and its weight (examples, possibly scaled by staleness).
     *
     * @param id     the update it came from, for messages
     * @param delta  trained − pulled weights
     * @param weight a finite weight > 0
     */
    record Input(String id, TensorMap delta, double weight) {
        public Input {
            Objects.requireNonNull(delta, "delta");
            if (!(weight > 0) || !Double.isFinite(weight)) {
                throw new IllegalArgumentException("update " + id + ": weight must be finite and > 0, got " + weight);
            }
        }
    }

    /**
     * Whether the aggregator named {@code name} is the weighted mean or sum, which a strategy may compute
     * as the deltas come, keeping none of them ({@code Strategy.keepsDeltas}); every other one needs all the
     * deltas at once.
     */
    static boolean streams(String name) {
        return name.equals("mean") || name.equals("sum");
    }

    /** Σwᵢδᵢ / Σwᵢ: FedAvg's weighted mean, Flower's {@code aggregate}, written on deltas. */
    static Aggregator weightedMean() {
        return new MeanAggregator(true);
    }

    /** Σwᵢδᵢ: FedBuff's weighted sum as METHODS.md writes it. */
    static Aggregator weightedSum() {
        return new MeanAggregator(false);
    }
}
