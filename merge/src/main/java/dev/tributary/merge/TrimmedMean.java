package dev.tributary.merge;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

/**
 * Coordinate-wise trimmed mean (Flower's FedTrimmedAvg): per coordinate, sort the models' values, cut
 * ⌊β·N⌋ from each end and average the rest. Unweighted; {@code beta} defaults to 0.2 as in Flower.
 */
final class TrimmedMean extends Method {
    TrimmedMean() {
        super("trimmed_mean", List.of(ParamDef.number("beta", 0.2)), List.of(), false, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        double beta = params.number("beta");
        int m = params.models();
        if (beta < 0 || beta >= 0.5) {
            throw params.invalid("beta", beta + " is outside [0, 0.5)");
        }
        int cut = (int) Math.floor(beta * m);
        if (2 * cut >= m) {
            throw params.invalid("beta", beta + " cuts " + cut + " of " + m + " models from each end, leaving none");
        }
        return (in, arena) -> {
            long n = in.numel();
            float[] column = new float[m];
            MemorySegment out = F32.allocate(arena, n);
            for (long j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    column[i] = F32.get(in.model(i), j);
                }
                Arrays.sort(column);
                double sum = 0;
                for (int i = cut; i < m - cut; i++) {
                    sum += column[i];
                }
                F32.set(out, j, (float) (sum / (m - 2 * cut)));
            }
            return out;
        };
    }
}
