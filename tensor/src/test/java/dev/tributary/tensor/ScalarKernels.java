package dev.tributary.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Plain scalar loops with the semantics of {@link Kernels}: the reference the SIMD kernels are tested
 * against. Element-wise results must match bit for bit; reductions up to the order of f64 additions.
 */
public final class ScalarKernels {
    private ScalarKernels() {}

    private static float get(MemorySegment s, long i) {
        return s.get(Tensor.F32_LE, i * 4);
    }

    private static void set(MemorySegment s, long i, float v) {
        s.set(Tensor.F32_LE, i * 4, v);
    }

    public static void scale(MemorySegment x, long n, float a) {
        for (long i = 0; i < n; i++) {
            set(x, i, get(x, i) * a);
        }
    }

    public static void axpy(float a, MemorySegment x, MemorySegment y, long n) {
        for (long i = 0; i < n; i++) {
            set(y, i, get(y, i) + a * get(x, i));
        }
    }

    public static void weightedSum(MemorySegment[] xs, float[] w, MemorySegment out, long n) {
        for (long i = 0; i < n; i++) {
            float acc = 0f;
            for (int k = 0; k < xs.length; k++) {
                float term = w[k] * get(xs[k], i);
                acc = k == 0 ? term : acc + term;
            }
            set(out, i, acc);
        }
    }

    public static double dot(MemorySegment x, MemorySegment y, long n) {
        double s = 0;
        for (long i = 0; i < n; i++) {
            s += (double) get(x, i) * get(y, i);
        }
        return s;
    }

    public static double l2Norm(MemorySegment x, long n) {
        double s = 0;
        for (long i = 0; i < n; i++) {
            double v = get(x, i);
            s += v * v;
        }
        return Math.sqrt(s);
    }

    public static double sum(MemorySegment x, long n) {
        double s = 0;
        for (long i = 0; i < n; i++) {
            s += get(x, i);
        }
        return s;
    }

    public static boolean allFinite(MemorySegment x, long n) {
        for (long i = 0; i < n; i++) {
            if (!Float.isFinite(get(x, i))) {
                return false;
            }
        }
        return true;
    }

    /** Element-by-element conversion through {@link Conversions#getFloat}/{@link Conversions#setFloat}. */
    public static void convert(DType src, MemorySegment s, DType dst, MemorySegment d, long n) {
        for (long i = 0; i < n; i++) {
            Conversions.setFloat(dst, d, i, Conversions.getFloat(src, s, i));
        }
    }
}
