package dev.tributary.worker;

import dev.tributary.tensor.TensorMap;

/**
 * Local training on one worker: weights in, some steps of training, a delta out. Implementations (the
 * pure-Java synthetic trainer, DJL models) live in the {@code train} module; the coordinator and the
 * protocol never see them.
 *
 * <p>Call order: {@link #train} and {@link #open} any number of times, from one thread at a time; {@link #close} once.
 */
public interface LocalTrainer extends AutoCloseable {

    /**
     * Trains from {@code weights} (not modified) according to {@code plan}.
     *
     * @return the delta {@code trained − weights} (same names, shapes and dtypes as {@code weights}), the
     *     number of examples seen and metrics such as the mean training loss
     */
    TrainResult train(TensorMap weights, TrainPlan plan);

    /**
     * Opens a replica starting from {@code weights} (copied) whose weights and {@code optimizer} state
     * persist across its calls, for DiLoCo's inner loop; {@code seed} orders the data.
     *
     * @throws UnsupportedOperationException when this trainer keeps no state between calls
     */
    default Replica open(TensorMap weights, InnerOptimizer optimizer, long seed) {
        throw new UnsupportedOperationException(getClass().getSimpleName()
                + " keeps no weights or optimizer state between calls: DiLoCo needs a trainer that opens a Replica");
    }

    /** Releases native resources (engines, arenas). */
    @Override
    default void close() {}
}
