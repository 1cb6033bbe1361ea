package dev.tributary.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels over off-heap f32 data: little-endian floats in a {@link MemorySegment}, element counts and
 * offsets as {@code long}. Most are {@code jdk.incubator.vector} loops; the memory-bound ones a merge runs
 * over every input ({@link #weightedSum}, {@link #allFinite}) are plain loops over small arrays that the
 * JIT compiles and vectorizes within milliseconds (see {@link ChunkedKernels}). Element-wise kernels give exactly the results of the plain scalar loop
 * (multiply, then add, each rounded to f32); reductions accumulate in f64, so they differ from a
 * sequential f64 loop only by the order of the additions.
 *
 * <p>An output may be the same segment as an input; partially overlapping segments are not supported.
 */
public final class Kernels {
    private Kernels() {}

    /** Vector shapes, in a class of their own so that kernels without them never load the vector API. */
    private static final class Simd {
        static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
        /** Half-width floats, each load widened to one full-width vector of doubles. */
        static final VectorSpecies<Float> FH =
                VectorSpecies.of(float.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
        static final VectorSpecies<Double> D =
                VectorSpecies.of(double.class, VectorShape.forBitSize(F.vectorBitSize()));
        static final int LANES = F.length();
        static final int HALF = FH.length();
        static final long HALF_BYTES = 4L * HALF;
    }

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /**
     * Elements per call of the inner reduction loops. Short calls let the JIT compile the vector loop
     * normally after a few hundred calls instead of waiting for on-stack replacement of one long loop.
     */
    private static final int BLOCK = 4096;

    /** {@code x[i] *= a} for {@code i < n}. */
    public static void scale(MemorySegment x, long n, float a) {
        check("scale", "x", x, n);
        long bound = vectorBound(n);
        long i = 0;
        for (; i < bound; i += Simd.LANES) {
            long off = i * 4;
            FloatVector.fromMemorySegment(Simd.F, x, off, LE).mul(a).intoMemorySegment(x, off, LE);
        }
        for (; i < n; i++) {
            x.set(Tensor.F32_LE, i * 4, x.get(Tensor.F32_LE, i * 4) * a);
        }
    }

    /** {@code y[i] += a * x[i]} for {@code i < n}. */
    public static void axpy(float a, MemorySegment x, MemorySegment y, long n) {
        check("axpy", "x", x, n);
        check("axpy", "y", y, n);
        long bound = vectorBound(n);
        long i = 0;
        for (; i < bound; i += Simd.LANES) {
            long off = i * 4;
            FloatVector vx = FloatVector.fromMemorySegment(Simd.F, x, off, LE);
            FloatVector vy = FloatVector.fromMemorySegment(Simd.F, y, off, LE);
            vy.add(vx.mul(a)).intoMemorySegment(y, off, LE);
        }
        for (; i < n; i++) {
            long off = i * 4;
            y.set(Tensor.F32_LE, off, y.get(Tensor.F32_LE, off) + a * x.get(Tensor.F32_LE, off));
        }
    }

    /**
     * {@code out[i] = w[0]*xs[0][i] + w[1]*xs[1][i] + ...}, summed left to right in f32; zero inputs give
     * zeros. {@code out} may be one of the inputs. From 4 Mi floats on, and when no segment is confined to
     * the calling thread, the range is split across up to 4 cores (the common fork-join pool); every element
     * is computed the same way, so the result is the same bit for bit.
     */
    public static void weightedSum(MemorySegment[] xs, float[] w, MemorySegment out, long n) {
        checkWeightedSum("weightedSum", xs, w, out, n);
        if (xs.length == 0) {
            out.asSlice(0, n * 4).fill((byte) 0);
        } else {
            ChunkedKernels.weightedSum(xs, w, out, n, false);
        }
    }

    /**
     * {@link #weightedSum} of inputs not yet checked, checking them on the way: one read of the inputs
     * where {@link #allFinite} on each and then the sum would read them twice.
     *
     * @return false when some input holds a NaN or an infinity among its first {@code n} values; {@code out}
     *         is then partly written
     */
    public static boolean weightedSumIfFinite(MemorySegment[] xs, float[] w, MemorySegment out, long n) {
        checkWeightedSum("weightedSumIfFinite", xs, w, out, n);
        if (xs.length == 0) {
            out.asSlice(0, n * 4).fill((byte) 0);
            return true;
        }
        return ChunkedKernels.weightedSum(xs, w, out, n, true);
    }

    private static void checkWeightedSum(String op, MemorySegment[] xs, float[] w, MemorySegment out, long n) {
        if (xs.length != w.length) {
            throw new IllegalArgumentException(op + ": " + xs.length + " inputs but " + w.length + " weights");
        }
        for (int k = 0; k < xs.length; k++) {
            check(op, "xs[" + k + "]", xs[k], n);
        }
        check(op, "out", out, n);
    }

    /** Σ x[i]·y[i], products and sum in f64. */
    public static double dot(MemorySegment x, MemorySegment y, long n) {
        check("dot", "x", x, n);
        check("dot", "y", y, n);
        long bound = n - Math.floorMod(n, 4 * Simd.HALF);
        double s = 0;
        for (long i = 0; i < bound; i += BLOCK) {
            s += dotBlock(x, y, i * 4, (int) Math.min(BLOCK, bound - i));
        }
        for (long i = bound; i < n; i++) {
            s += (double) x.get(Tensor.F32_LE, i * 4) * y.get(Tensor.F32_LE, i * 4);
        }
        return s;
    }

    /** Σ x·y over {@code count} floats (a multiple of 4·HALF) from byte {@code off}. */
    private static double dotBlock(MemorySegment x, MemorySegment y, long off, int count) {
        DoubleVector acc0 = DoubleVector.zero(Simd.D), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        long end = off + 4L * count;
        for (long o = off; o < end; o += 4 * Simd.HALF_BYTES) {
            acc0 = wide(x, o).fma(wide(y, o), acc0);
            acc1 = wide(x, o + Simd.HALF_BYTES).fma(wide(y, o + Simd.HALF_BYTES), acc1);
            acc2 = wide(x, o + 2 * Simd.HALF_BYTES).fma(wide(y, o + 2 * Simd.HALF_BYTES), acc2);
            acc3 = wide(x, o + 3 * Simd.HALF_BYTES).fma(wide(y, o + 3 * Simd.HALF_BYTES), acc3);
        }
        return acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    }

    /** Euclidean norm √(Σ x[i]²), accumulated in f64. */
    public static double l2Norm(MemorySegment x, long n) {
        check("l2Norm", "x", x, n);
        long bound = n - Math.floorMod(n, 4 * Simd.HALF);
        double s = 0;
        for (long i = 0; i < bound; i += BLOCK) {
            s += squaresBlock(x, i * 4, (int) Math.min(BLOCK, bound - i));
        }
        for (long i = bound; i < n; i++) {
            double v = x.get(Tensor.F32_LE, i * 4);
            s += v * v;
        }
        return Math.sqrt(s);
    }

    /** Σ x² over {@code count} floats (a multiple of 4·HALF) from byte {@code off}. */
    private static double squaresBlock(MemorySegment x, long off, int count) {
        DoubleVector acc0 = DoubleVector.zero(Simd.D), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        long end = off + 4L * count;
        for (long o = off; o < end; o += 4 * Simd.HALF_BYTES) {
            DoubleVector v0 = wide(x, o);
            DoubleVector v1 = wide(x, o + Simd.HALF_BYTES);
            DoubleVector v2 = wide(x, o + 2 * Simd.HALF_BYTES);
            DoubleVector v3 = wide(x, o + 3 * Simd.HALF_BYTES);
            acc0 = v0.fma(v0, acc0);
            acc1 = v1.fma(v1, acc1);
            acc2 = v2.fma(v2, acc2);
            acc3 = v3.fma(v3, acc3);
        }
        return acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    }

    /** Σ x[i] in f64. */
    public static double sum(MemorySegment x, long n) {
        check("sum", "x", x, n);
        long bound = n - Math.floorMod(n, 4 * Simd.HALF);
        double s = 0;
        for (long i = 0; i < bound; i += BLOCK) {
            s += sumBlock(x, i * 4, (int) Math.min(BLOCK, bound - i));
        }
        for (long i = bound; i < n; i++) {
            s += x.get(Tensor.F32_LE, i * 4);
        }
        return s;
    }

    /** Σ of {@code count} floats (a multiple of 4·HALF) from byte {@code off}. */
    private static double sumBlock(MemorySegment x, long off, int count) {
        DoubleVector acc0 = DoubleVector.zero(Simd.D), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        long end = off + 4L * count;
        for (long o = off; o < end; o += 4 * Simd.HALF_BYTES) {
            acc0 = acc0.add(wide(x, o));
            acc1 = acc1.add(wide(x, o + Simd.HALF_BYTES));
            acc2 = acc2.add(wide(x, o + 2 * Simd.HALF_BYTES));
            acc3 = acc3.add(wide(x, o + 3 * Simd.HALF_BYTES));
        }
        return acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
    }

    /** True when none of the first {@code n} values is NaN or infinite. */
    public static boolean allFinite(MemorySegment x, long n) {
        check("allFinite", "x", x, n);
        return ChunkedKernels.allFinite(x, n);
    }

    /**
     * Vectorized conversion between f16/bf16 and f32, bit for bit the same as the scalar conversions in
     * {@link Conversions}; false when there is no fast path for this pair.
     */
    static boolean convertFromToF32(DType src, MemorySegment s, DType dst, MemorySegment d, long n) {
        if (src == DType.F32) {
            return switch (dst) {
                case F16 -> { VectorConversions.f32ToF16(s, d, n); yield true; }
                case BF16 -> { VectorConversions.f32ToBf16(s, d, n); yield true; }
                default -> false;
            };
        }
        if (dst == DType.F32) {
            return switch (src) {
                case F16 -> { VectorConversions.f16ToF32(s, d, n); yield true; }
                case BF16 -> { VectorConversions.bf16ToF32(s, d, n); yield true; }
                default -> false;
            };
        }
        return false;
    }

    /** Loads a half-width vector of floats at byte offset {@code off} and widens it to doubles. */
    private static DoubleVector wide(MemorySegment x, long off) {
        return (DoubleVector) FloatVector.fromMemorySegment(Simd.FH, x, off, LE)
                .convertShape(VectorOperators.F2D, Simd.D, 0);
    }

    private static long vectorBound(long n) {
        return n - Math.floorMod(n, Simd.LANES);
    }

    private static void check(String op, String arg, MemorySegment seg, long n) {
        if (n < 0) {
            throw new IllegalArgumentException(op + ": n < 0: " + n);
        }
        if (n > seg.byteSize() / 4) {
            throw new IllegalArgumentException(op + ": n = " + n + " but " + arg + " holds "
                    + seg.byteSize() / 4 + " floats");
        }
    }
}
