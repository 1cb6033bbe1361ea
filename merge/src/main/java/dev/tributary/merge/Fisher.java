package dev.tributary.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Fisher merging (Matena and Raffel): θ = Σ λᵢFᵢθᵢ / Σ λᵢFᵢ element-wise, with Fᵢ each model's diagonal
 * Fisher information (per-model parameter {@code fisher}: tensors with the model's names and shapes)
 * floored at 1e-6, and λᵢ the model's {@code weight} (default 1).
 */
final class Fisher extends Method {
    static final String FISHER = "fisher";
    private static final double FLOOR = 1e-6;

    Fisher() {
        super("fisher", List.of(), List.of(ParamDef.number("weight", 1.0), ParamDef.requiredTensors(FISHER)),
                false, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        double[] w = params.modelNumbers("weight");
        double total = 0;
        for (int i = 0; i < w.length; i++) {
            if (w[i] < 0) {
                throw params.invalid(i, "weight", w[i] + " < 0; Fisher weights must be non-negative");
            }
            total += w[i];
        }
        if (total == 0) {
            throw params.invalid(0, "weight", "all weights are 0");
        }
        return (in, arena) -> {
            long n = in.numel();
            List<MemorySegment> fishers = in.tensors().get(FISHER);
            MemorySegment out = F32.allocate(arena, n);
            for (long j = 0; j < n; j++) {
                double num = 0;
                double den = 0;
                for (int i = 0; i < w.length; i++) {
                    double f = w[i] * Math.max(F32.get(fishers.get(i), j), FLOOR);
                    num += f * F32.get(in.model(i), j);
                    den += f;
                }
                F32.set(out, j, (float) (num / den));
            }
            return out;
        };
    }
}
