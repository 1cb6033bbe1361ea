package dev.tributary.merge;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * DELLA's MagPrune as mergekit computes it: the delta is viewed as rows (a tensor of rank &lt; 2 as one
 * row) and ranked by magnitude along dimension 1; the entry of rank r (1 = smallest) among m is kept
 * with probability p = (density − ε) + (r − 1)/(m − 1)·2ε, so the largest magnitudes are the likeliest to
 * survive. The arithmetic of p is done in f32 in mergekit's order, so that the comparison with the
 * uniform draw of {@link DareRandom} is exact. Equal magnitudes rank in index order. A row of one entry
 * (where mergekit's formula divides 0 by 0) keeps it with probability {@code density}.
 */
final class MagPrune {
    private MagPrune() {}

    static void apply(MemorySegment delta, long[] shape, double density, double epsilon, long key) {
        long outer = shape.length < 2 ? 1 : shape[0];
        long m = shape.length == 0 ? 1 : shape.length == 1 ? shape[0] : shape[1];
        long inner = 1;
        for (int d = 2; d < shape.length; d++) {
            inner *= shape[d];
        }
        if (m == 0 || outer == 0 || inner == 0) {
            return;
        }
        if (m > Integer.MAX_VALUE - 8) {
            throw new MergeException("della: dimension 1 of " + m + " entries is too long to rank");
        }
        float low = (float) (density - epsilon);
        float eps = (float) epsilon;
        float span = (float) m - 1f;
        long[] order = new long[(int) m];
        for (long i = 0; i < outer; i++) {
            for (long k = 0; k < inner; k++) {
                long start = i * m * inner + k;
                for (int j = 0; j < m; j++) {
                    int bits = Float.floatToRawIntBits(F32.get(delta, start + j * inner)) & 0x7FFF_FFFF;
                    order[j] = ((long) bits << 32) | j;
                }
                Arrays.sort(order);
                for (int r = 0; r < m; r++) {
                    int j = (int) order[r];
                    float norm = m == 1 ? 0.5f : Math.clamp((float) r / span, 0f, 1f);
                    float p = norm * 2f * eps + low;
                    long at = start + j * inner;
                    if (!(DareRandom.uniform(key, at) < p)) {
                        F32.set(delta, at, 0f);
                    }
                }
            }
        }
    }
}
