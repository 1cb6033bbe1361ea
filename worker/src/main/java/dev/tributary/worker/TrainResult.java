package dev.tributary.worker;

import dev.tributary.tensor.TensorMap;
import java.util.Map;

/**
 * The outcome of one call to {@link LocalTrainer#train}.
 *
 * @param delta    trained weights minus the weights given, tensor by tensor
 * @param examples number of training examples processed (the update's aggregation weight)
 * @param steps    optimizer steps taken
 * @param metrics  e.g. {@code loss} (mean training loss), {@code accuracy}
 */
public record TrainResult(TensorMap delta, long examples, int steps, Map<String, Double> metrics) {
    public TrainResult {
        metrics = Map.copyOf(metrics);
        if (examples < 0) {
            throw new IllegalArgumentException("examples < 0: " + examples);
        }
    }
}
