package dev.tributary.merge;

import dev.tributary.tensor.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Weighted average Σwᵢθᵢ / Σwᵢ (mergekit's linear; Flower's FedAvg with wᵢ the example counts); with
 * {@code normalize: false} the plain weighted sum Σwᵢθᵢ.
 */
final class Linear extends Method {
    Linear() {
        super("linear", List.of(ParamDef.bool("normalize", true)), List.of(ParamDef.requiredNumber("weight")),
                false, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        double[] w = params.modelNumbers("weight");
        double total = 0;
        for (double x : w) {
            total += x;
        }
        float[] coefficients = new float[w.length];
        boolean normalize = params.bool("normalize");
        if (normalize && total == 0) {
            throw params.invalid("normalize", "the models' weights sum to 0, cannot normalize");
        }
        for (int i = 0; i < w.length; i++) {
            coefficients[i] = (float) (normalize ? w[i] / total : w[i]);
        }
        return new WeightedSum(coefficients);
    }

    /** Σ cᵢxᵢ with fixed coefficients; also the second pass of multi-krum. */
    record WeightedSum(float[] coefficients) implements Kernel {
        @Override
        public MemorySegment merge(F32Inputs in, Arena arena) {
            MemorySegment out = F32.allocate(arena, in.numel());
            Kernels.weightedSum(in.models().toArray(MemorySegment[]::new), coefficients, out, in.numel());
            return out;
        }

        @Override
        public boolean checksFinite() {
            return true;
        }

        @Override
        public MemorySegment mergeIfFinite(F32Inputs in, Arena arena) {
            MemorySegment out = F32.allocate(arena, in.numel());
            boolean finite = Kernels.weightedSumIfFinite(in.models().toArray(MemorySegment[]::new), coefficients, out,
                    in.numel());
            return finite ? out : null;
        }
    }
}
