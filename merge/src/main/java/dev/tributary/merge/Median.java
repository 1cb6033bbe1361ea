package dev.tributary.merge;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;

/**
 * Coordinate-wise median (Flower's FedMedian): for an even number of models the mean of the two middle
 * values. Unweighted by design: a model's weight must not buy it influence over the median.
 */
final class Median extends Method {
    Median() {
        super("median", List.of(), List.of(), false, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return (in, arena) -> {
            long n = in.numel();
            int m = in.count();
            float[] column = new float[m];
            MemorySegment out = F32.allocate(arena, n);
            for (long j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    column[i] = F32.get(in.model(i), j);
                }
                Arrays.sort(column);
                float median = m % 2 == 1 ? column[m / 2]
                        : (float) (((double) column[m / 2 - 1] + column[m / 2]) / 2);
                F32.set(out, j, median);
            }
            return out;
        };
    }
}
