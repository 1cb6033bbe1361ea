package dev.tributary.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Model Stock (Jang et al.), as mergekit computes it: with offsets δᵢ = θᵢ − θ_base, cos is the mean over
 * pairs of clamp(⟨δᵢ,δⱼ⟩ / max(‖δᵢ‖‖δⱼ‖, 1e-6), −1, 1), t = N·cos / (1 + (N−1)·cos), and
 * θ = t·mean(θᵢ) + (1−t)·θ_base. Per flattened tensor, or per row (last dimension) with
 * {@code filter_wise: true}. Needs a base and at least two models.
 */
final class ModelStock extends Method {
    private static final double NORM_FLOOR = 1e-6;

    ModelStock() {
        super("model_stock", List.of(ParamDef.bool("filter_wise", false)), List.of(), true, 2, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        boolean filterWise = params.bool("filter_wise");
        return (in, arena) -> {
            long n = in.numel();
            long[] shape = in.shape();
            long row = filterWise && shape.length > 0 ? shape[shape.length - 1] : n;
            MemorySegment out = F32.allocate(arena, n);
            if (row == 0) {
                return out;
            }
            for (long start = 0; start < n; start += row) {
                stock(in, start, row, out);
            }
            return out;
        };
    }

    private static void stock(F32Inputs in, long start, long len, MemorySegment out) {
        int m = in.count();
        MemorySegment base = in.base();
        double[] norms = new double[m];
        double[][] dots = new double[m][m];
        for (long j = start; j < start + len; j++) {
            float b = F32.get(base, j);
            for (int i = 0; i < m; i++) {
                float di = F32.get(in.model(i), j) - b;
                norms[i] += (double) di * di;
                for (int k = i + 1; k < m; k++) {
                    float dk = F32.get(in.model(k), j) - b;
                    dots[i][k] += (double) di * dk;
                }
            }
        }
        double cosSum = 0;
        int pairs = 0;
        for (int i = 0; i < m; i++) {
            for (int k = i + 1; k < m; k++) {
                double denom = Math.max(Math.sqrt(norms[i]) * Math.sqrt(norms[k]), NORM_FLOOR);
                cosSum += Math.clamp(dots[i][k] / denom, -1.0, 1.0);
                pairs++;
            }
        }
        double cos = cosSum / pairs;
        double t = m * cos / (1 + (m - 1) * cos);
        for (long j = start; j < start + len; j++) {
            double mean = 0;
            for (int i = 0; i < m; i++) {
                mean += F32.get(in.model(i), j);
            }
            mean /= m;
            F32.set(out, j, (float) (t * mean + (1 - t) * F32.get(base, j)));
        }
    }
}
