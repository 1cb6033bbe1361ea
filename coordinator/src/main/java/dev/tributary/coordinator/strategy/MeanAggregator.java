package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.List;

/**
 * The weighted mean (or sum) of the deltas: coefficients wᵢ/Σwᵢ (or wᵢ) rounded to f32, then
 * {@link dev.tributary.tensor.Kernels#weightedSum}, the arithmetic of the merge module's linear method.
 */
final class MeanAggregator implements Aggregator {
    private final boolean normalize;

    MeanAggregator(boolean normalize) {
        this.normalize = normalize;
    }

    @Override
    public String name() {
        return normalize ? "mean" : "sum";
    }

    @Override
    public TensorMap aggregate(TensorMap base, List<Input> inputs) {
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException(name() + " aggregation needs at least one input");
        }
        List<TensorMap> deltas = new ArrayList<>(inputs.size());
        double total = 0;
        for (Input in : inputs) {
            deltas.add(in.delta());
            total += in.weight();
        }
        float[] c = new float[inputs.size()];
        for (int k = 0; k < c.length; k++) {
            c[k] = (float) (normalize ? inputs.get(k).weight() / total : inputs.get(k).weight());
        }
        return TensorOps.weightedSum(base, deltas, c);
    }
}
