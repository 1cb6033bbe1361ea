package dev.tributary.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.stream.IntStream;

/**
 * The memory-bound kernels of a merge ({@link Kernels#weightedSum}, {@link Kernels#allFinite}) as plain
 * loops over Java arrays: each input is copied a chunk at a time into a small array (a bulk copy, as fast
 * at the first call as at the last), and the arithmetic runs over those arrays. The loops are a few
 * bytecodes each, so the JIT compiles them within milliseconds and C2 vectorizes them itself, where
 * {@code jdk.incubator.vector} kernels run many times slower until C2 has compiled them, which on a busy
 * machine took seconds of a merge. Results are bit for bit those of the scalar loop: the same f32
 * expression per element, multiply then add, each rounded to f32, summed left to right.
 */
final class ChunkedKernels {
    private ChunkedKernels() {}

    /** Floats per chunk: the chunks of four inputs, their bits and the sum stay within a core's L2. */
    static final int CHUNK = 8192;
    /** Floats from which a kernel is split across cores (16 MiB of f32: well above a thread hand-off's cost). */
    static final long PARALLEL_MIN = 4L << 20;
    /** Most threads one kernel runs on: a merge is memory-bound, so more would only contend. */
    static final int MAX_PARTS = 4;
    /** A thread that is never started: a segment accessible by it is not confined to the caller. */
    private static final Thread ELSEWHERE = Thread.ofPlatform().unstarted(() -> {});
    private static final ValueLayout.OfInt I32_LE =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** The exponent field of an f32: all ones for NaN and the infinities only. */
    private static final int EXPONENT = 0x7F80_0000;

    /**
     * {@code out[i] = Σ w[k]·xs[k][i]} left to right in f32, for at least one input and sizes already
     * checked; with {@code check}, also checks every input value on the way.
     *
     * @return false when {@code check} found a NaN or an infinity (out is then partly written), else true
     */
    static boolean weightedSum(MemorySegment[] xs, float[] w, MemorySegment out, long n, boolean check) {
        int parts = parts(xs, out, n);
        if (parts == 1) {
            return weightedSum(xs, w, out, 0, n, check);
        }
        // Elements are independent: each part sums its own range, with the same result as one pass.
        long step = Math.ceilDiv(Math.ceilDiv(n, parts), CHUNK) * CHUNK;
        return IntStream.range(0, parts).parallel()
                .allMatch(p -> weightedSum(xs, w, out, Math.min(n, p * step), Math.min(n, (p + 1) * step), check));
    }

    /**
     * How many threads a kernel over {@code n} floats runs on: one below {@link #PARALLEL_MIN} floats, on
     * a single core, or when a segment is confined to the calling thread; else up to {@link #MAX_PARTS},
     * one per core.
     */
    static int parts(MemorySegment[] xs, MemorySegment out, long n) {
        int cores = Runtime.getRuntime().availableProcessors();
        if (n < PARALLEL_MIN || cores < 2 || !out.isAccessibleBy(ELSEWHERE)) {
            return 1;
        }
        for (MemorySegment x : xs) {
            if (!x.isAccessibleBy(ELSEWHERE)) {
                return 1;
            }
        }
        return (int) Math.min(Math.min(cores, MAX_PARTS), Math.ceilDiv(n, PARALLEL_MIN / 2));
    }

    /** {@link #weightedSum} over elements {@code [start, end)}. */
    private static boolean weightedSum(MemorySegment[] xs, float[] w, MemorySegment out, long start, long end,
                                       boolean check) {
        int k = xs.length;
        int chunk = (int) Math.min(CHUNK, end - start);
        if (chunk <= 0) {
            return true;
        }
        float[] acc = new float[chunk];
        float[] x1 = new float[chunk];
        float[] x2 = k == 4 ? new float[chunk] : null;
        float[] x3 = k == 4 ? new float[chunk] : null;
        int[] bits = check ? new int[chunk] : null;
        for (long from = start; from < end; from += chunk) {
            int len = (int) Math.min(chunk, end - from);
            long off = from * 4;
            if (!load(xs[0], off, acc, bits, len)) {
                return false;
            }
            if (k == 4) {
                // the common four-way merge in one loop: each element of the chunk loaded and stored once
                if (!load(xs[1], off, x1, bits, len) || !load(xs[2], off, x2, bits, len)
                        || !load(xs[3], off, x3, bits, len)) {
                    return false;
                }
                sum4(acc, w[0], x1, w[1], x2, w[2], x3, w[3], len);
            } else {
                scale(acc, w[0], len);
                for (int j = 1; j < k; j++) {
                    if (!load(xs[j], off, x1, bits, len)) {
                        return false;
                    }
                    addScaled(acc, x1, w[j], len);
                }
            }
            MemorySegment.copy(acc, 0, out, Tensor.F32_LE, off, len);
        }
        return true;
    }

    /**
     * Copies {@code len} floats from byte {@code off} of {@code src} into {@code dst}; with {@code bits},
     * first copies them as ints there and checks them (the second copy then reads from the cache).
     *
     * @return false when a checked value is NaN or infinite
     */
    private static boolean load(MemorySegment src, long off, float[] dst, int[] bits, int len) {
        if (bits != null) {
            MemorySegment.copy(src, I32_LE, off, bits, 0, len);
            if (maxExponent(bits, len) == EXPONENT) {
                return false;
            }
        }
        MemorySegment.copy(src, Tensor.F32_LE, off, dst, 0, len);
        return true;
    }

    /** {@code a = ((w0·a + w1·b) + w2·c) + w3·d}, each operation rounded to f32. */
    private static void sum4(float[] a, float w0, float[] b, float w1, float[] c, float w2, float[] d, float w3,
                             int len) {
        for (int i = 0; i < len; i++) {
            a[i] = w0 * a[i] + w1 * b[i] + w2 * c[i] + w3 * d[i];
        }
    }

    private static void scale(float[] a, float w, int len) {
        for (int i = 0; i < len; i++) {
            a[i] = w * a[i];
        }
    }

    private static void addScaled(float[] acc, float[] x, float w, int len) {
        for (int i = 0; i < len; i++) {
            acc[i] = acc[i] + w * x[i];
        }
    }

    /** True when none of the first {@code n} floats is NaN or infinite; size already checked. */
    static boolean allFinite(MemorySegment x, long n) {
        int chunk = (int) Math.min(CHUNK, n);
        int[] bits = new int[chunk];
        for (long from = 0; from < n; from += chunk) {
            int len = (int) Math.min(chunk, n - from);
            MemorySegment.copy(x, I32_LE, from * 4, bits, 0, len);
            if (maxExponent(bits, len) == EXPONENT) {
                return false;
            }
        }
        return true;
    }

    /**
     * The largest exponent field among the floats' bits, EXPONENT exactly when one is NaN or infinite.
     * On ints, not floats: C2 vectorizes this max reduction, not one through {@code floatToRawIntBits}.
     */
    private static int maxExponent(int[] bits, int len) {
        int max = 0;
        for (int i = 0; i < len; i++) {
            max = Math.max(max, bits[i] & EXPONENT);
        }
        return max;
    }
}
