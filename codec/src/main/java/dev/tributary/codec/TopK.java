package dev.tributary.codec;

import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * Selects the {@code k} values of largest magnitude, ties going to the lowest index, in three linear
 * passes: the magnitude's bits (a non-negative float's bits order like the float) are ranked by a
 * histogram of their top 16 bits, then of the low 15 bits inside the boundary bucket, which gives the
 * exact threshold; the last pass keeps everything above it and the first few equal to it.
 */
final class TopK {
    private TopK() {}

    /** Indices of the {@code k} largest |x| among the first {@code n} finite f32 of {@code src}, ascending. */
    static int[] select(MemorySegment src, int n, int k) {
        int[] out = new int[k];
        if (k == 0) {
            return out;
        }
        if (k == n) {
            for (int i = 0; i < n; i++) {
                out[i] = i;
            }
            return out;
        }
        int[] high = new int[1 << 16];
        for (int i = 0; i < n; i++) {
            high[key(src, i) >>> 15]++;
        }
        int need = k;
        int bucket = high.length - 1;
        while (high[bucket] < need) {
            need -= high[bucket--];
        }
        int[] low = new int[1 << 15];
        for (int i = 0; i < n; i++) {
            int key = key(src, i);
            if (key >>> 15 == bucket) {
                low[key & 0x7FFF]++;
            }
        }
        int lowBucket = low.length - 1;
        while (low[lowBucket] < need) {
            need -= low[lowBucket--];
        }
        int threshold = (bucket << 15) | lowBucket;
        int ties = need;
        int j = 0;
        for (int i = 0; i < n && j < k; i++) {
            int key = key(src, i);
            if (key > threshold || (key == threshold && ties-- > 0)) {
                out[j++] = i;
            }
        }
        return out;
    }

    private static int key(MemorySegment src, int i) {
        return Float.floatToRawIntBits(src.get(Tensor.F32_LE, 4L * i)) & 0x7FFF_FFFF;
    }
}
