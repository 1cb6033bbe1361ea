package dev.tributary.worker;

import dev.tributary.tensor.TensorMap;
import java.util.List;

/**
 * A local copy of the model that keeps its weights and its optimizer's state between calls: DiLoCo's
 * inner loop, where a worker trains for many rounds and only some tensors are replaced at each sync.
 *
 * <p>Call order: {@link #train}, {@link #weights} and {@link #assign} in any order from one thread at a
 * time; {@link #close} once.
 */
public interface Replica extends AutoCloseable {

    /**
     * Runs {@code steps} (≥ 0) more optimizer steps, the data order and the optimizer state carrying on
     * from the previous call.
     *
     * @return examples, steps and metrics (mean batch {@code loss}) of these steps; the delta is empty
     */
    TrainResult train(int steps);

    /** Copies of the current weights of {@code names} (f32). */
    TensorMap weights(List<String> names);

    /** Overwrites the tensors in {@code tensors} (names and shapes of the model); the optimizer state stays. */
    void assign(TensorMap tensors);

    /** Releases native memory. */
    @Override
    void close();
}
