package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class KernelsTest {
    /** Every length up to a few vectors, then some larger odd ones; the tails are where bugs hide. */
    static LongStream lengths() {
        return LongStream.concat(LongStream.rangeClosed(0, 70), LongStream.of(127, 1000, 1023, 4099, 9001, 70_001));
    }

    private final Arena arena = Arena.ofAuto();

    /** Random floats in a segment starting 4 bytes past an aligned address, so loads are unaligned. */
    private MemorySegment randomFloats(long n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        MemorySegment s = arena.allocate(n * 4 + 4, 64).asSlice(4, n * 4);
        for (long i = 0; i < n; i++) {
            s.set(Tensor.F32_LE, i * 4, (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-3, 4))));
        }
        return s;
    }

    private MemorySegment copyOf(MemorySegment s) {
        MemorySegment c = arena.allocate(s.byteSize() + 4, 64).asSlice(4, s.byteSize());
        c.copyFrom(s);
        return c;
    }

    private static void assertSameBits(MemorySegment expected, MemorySegment actual, long n, String what) {
        long mismatch = expected.asSlice(0, n * 4).mismatch(actual.asSlice(0, n * 4));
        assertEquals(-1, mismatch, () -> what + ": first difference at byte " + mismatch + " (n=" + n + ")");
    }

    /** Within the worst-case error of summing n terms of total magnitude {@code scale} in f64, in any order. */
    private static void assertClose(double expected, double actual, long n, double scale, String what) {
        assertEquals(expected, actual, (n + 16) * 0x1p-52 * Math.max(scale, Double.MIN_NORMAL), what);
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void scaleMatchesScalar(long n) {
        MemorySegment x = randomFloats(n, n);
        MemorySegment ref = copyOf(x);
        Kernels.scale(x, n, -0.37f);
        ScalarKernels.scale(ref, n, -0.37f);
        assertSameBits(ref, x, n, "scale");
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void axpyMatchesScalar(long n) {
        MemorySegment x = randomFloats(n, n);
        MemorySegment y = randomFloats(n, n + 1);
        MemorySegment ref = copyOf(y);
        Kernels.axpy(1.7f, x, y, n);
        ScalarKernels.axpy(1.7f, x, ref, n);
        assertSameBits(ref, y, n, "axpy");
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void weightedSumMatchesScalarForEveryInputCount(long n) {
        for (int k = 0; k <= 6; k++) {
            MemorySegment[] xs = new MemorySegment[k];
            float[] w = new float[k];
            for (int j = 0; j < k; j++) {
                xs[j] = randomFloats(n, n * 31 + j);
                w[j] = 0.1f * (j + 1) - 0.25f;
            }
            MemorySegment out = randomFloats(n, 99);
            MemorySegment ref = randomFloats(n, 98);
            Kernels.weightedSum(xs, w, out, n);
            ScalarKernels.weightedSum(xs, w, ref, n);
            assertSameBits(ref, out, n, "weightedSum of " + k);
        }
    }

    @Test
    void weightedSumMayWriteIntoOneOfItsInputs() {
        long n = 1001;
        MemorySegment a = randomFloats(n, 1);
        MemorySegment b = randomFloats(n, 2);
        MemorySegment c = randomFloats(n, 3);
        MemorySegment ref = randomFloats(n, 4);
        float[] w = {0.5f, -1.5f, 2f};
        ScalarKernels.weightedSum(new MemorySegment[] {a, b, c}, w, ref, n);
        Kernels.weightedSum(new MemorySegment[] {a, b, c}, w, b, n);
        assertSameBits(ref, b, n, "weightedSum into its second input");
    }

    /** Lengths around the chunks of the array kernels: one chunk, several, and tails of every size class. */
    static LongStream chunkLengths() {
        long c = ChunkedKernels.CHUNK;
        return LongStream.of(c - 1, c, c + 1, 2 * c + 7, 3 * c + c / 2 + 3);
    }

    @ParameterizedTest
    @MethodSource({"lengths", "chunkLengths"})
    void weightedSumIfFiniteIsWeightedSumBitForBit(long n) {
        for (int k = 0; k <= 5; k++) {
            MemorySegment[] xs = new MemorySegment[k];
            float[] w = new float[k];
            for (int j = 0; j < k; j++) {
                xs[j] = randomFloats(n, n * 17 + j);
                w[j] = 0.3f * (j + 1) - 0.5f;
            }
            MemorySegment checked = randomFloats(n, 5);
            MemorySegment plain = randomFloats(n, 6);
            MemorySegment ref = randomFloats(n, 7);
            assertTrue(Kernels.weightedSumIfFinite(xs, w, checked, n), "finite inputs, n=" + n + ", k=" + k);
            Kernels.weightedSum(xs, w, plain, n);
            ScalarKernels.weightedSum(xs, w, ref, n);
            assertSameBits(ref, plain, n, "weightedSum of " + k);
            assertSameBits(ref, checked, n, "weightedSumIfFinite of " + k);
        }
    }

    @Test
    void weightedSumIfFiniteFindsANonFiniteValueInAnyInputAtAnyPosition() {
        long c = ChunkedKernels.CHUNK;
        long n = 2 * c + 5;
        for (int k : new int[] {1, 2, 4, 5}) {
            MemorySegment[] xs = new MemorySegment[k];
            float[] w = new float[k];
            for (int j = 0; j < k; j++) {
                xs[j] = randomFloats(n, 40 + j);
                w[j] = j == k - 1 ? 0f : 0.25f; // a zero weight does not hide a bad value
            }
            MemorySegment out = arena.allocate(n * 4);
            for (int j = 0; j < k; j++) {
                for (long pos : new long[] {0, 1, c - 1, c, c + 1, 2 * c, n - 1}) {
                    for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
                            Float.intBitsToFloat(0xFFC0_0001)}) {
                        float saved = xs[j].get(Tensor.F32_LE, pos * 4);
                        xs[j].set(Tensor.F32_LE, pos * 4, bad);
                        assertFalse(Kernels.weightedSumIfFinite(xs, w, out, n),
                                "k=" + k + " input " + j + " pos=" + pos + " " + bad);
                        assertTrue(Kernels.weightedSumIfFinite(xs, w, out, pos), "prefix before the bad value");
                        xs[j].set(Tensor.F32_LE, pos * 4, saved);
                    }
                }
            }
            assertTrue(Kernels.weightedSumIfFinite(xs, w, out, n));
        }
    }

    @Test
    void aLargeWeightedSumSplitAcrossCoresIsBitForBitOnePassAndStillFindsEveryBadValue() {
        long n = ChunkedKernels.PARALLEL_MIN + 3 * ChunkedKernels.CHUNK + 5;
        MemorySegment[] xs = {randomFloats(n, 11), randomFloats(n, 12), randomFloats(n, 13), randomFloats(n, 14)};
        float[] w = {0.4f, 0.3f, -0.2f, 0.1f};
        MemorySegment ref = arena.allocate(n * 4);
        ScalarKernels.weightedSum(xs, w, ref, n);
        MemorySegment out = arena.allocate(n * 4);
        int cores = Runtime.getRuntime().availableProcessors();
        assertEquals(cores < 2 ? 1 : Math.min(cores, 3), ChunkedKernels.parts(xs, out, n), "parts for " + n + " floats on " + cores);
        assertTrue(Kernels.weightedSumIfFinite(xs, w, out, n));
        assertSameBits(ref, out, n, "split weightedSumIfFinite");
        MemorySegment plain = arena.allocate(n * 4);
        Kernels.weightedSum(xs, w, plain, n);
        assertSameBits(ref, plain, n, "split weightedSum");
        for (long pos : new long[] {0, n / 2 - 1, n / 2 + ChunkedKernels.CHUNK, n - 1}) {
            float saved = xs[2].get(Tensor.F32_LE, pos * 4);
            xs[2].set(Tensor.F32_LE, pos * 4, Float.NaN);
            assertFalse(Kernels.weightedSumIfFinite(xs, w, out, n), "NaN at " + pos);
            xs[2].set(Tensor.F32_LE, pos * 4, saved);
        }
        try (Arena confined = Arena.ofConfined()) {
            MemorySegment mine = confined.allocate(n * 4);
            assertEquals(1, ChunkedKernels.parts(xs, mine, n), "a confined output stays on the caller's thread");
            assertTrue(Kernels.weightedSumIfFinite(xs, w, mine, n));
            assertSameBits(ref, mine, n, "confined output");
        }
        assertEquals(1, ChunkedKernels.parts(xs, out, ChunkedKernels.PARALLEL_MIN - 1), "below the threshold");
    }

    @Test
    void weightedSumOfFourMayWriteIntoItsFirstInputAcrossChunks() {
        long n = 3 * ChunkedKernels.CHUNK + 11;
        MemorySegment[] xs = {randomFloats(n, 1), randomFloats(n, 2), randomFloats(n, 3), randomFloats(n, 4)};
        float[] w = {0.4f, 0.3f, 0.2f, 0.1f};
        MemorySegment ref = randomFloats(n, 5);
        ScalarKernels.weightedSum(xs, w, ref, n);
        assertTrue(Kernels.weightedSumIfFinite(xs, w, xs[0], n));
        assertSameBits(ref, xs[0], n, "weightedSumIfFinite into its first input");
    }

    @ParameterizedTest
    @MethodSource("lengths")
    void reductionsMatchScalar(long n) {
        MemorySegment x = randomFloats(n, n);
        MemorySegment y = randomFloats(n, n + 7);
        double absSum = ScalarKernels.sum(absCopy(x, n), n);
        assertClose(ScalarKernels.sum(x, n), Kernels.sum(x, n), n, absSum, "sum");
        double norm = ScalarKernels.l2Norm(x, n);
        assertClose(norm, Kernels.l2Norm(x, n), n, norm, "l2Norm");
        assertClose(ScalarKernels.dot(x, y, n), Kernels.dot(x, y, n), n, norm * ScalarKernels.l2Norm(y, n), "dot");
    }

    private MemorySegment absCopy(MemorySegment x, long n) {
        MemorySegment c = copyOf(x);
        for (long i = 0; i < n; i++) {
            c.set(Tensor.F32_LE, i * 4, Math.abs(c.get(Tensor.F32_LE, i * 4)));
        }
        return c;
    }

    @Test
    void reductionsAccumulateInDouble() {
        // 2^24 + 1 + 1 + ... is lost in f32 accumulation; f64 keeps every unit.
        long n = 4099;
        MemorySegment x = arena.allocate(n * 4);
        x.set(Tensor.F32_LE, 0, 0x1p24f);
        for (long i = 1; i < n; i++) {
            x.set(Tensor.F32_LE, i * 4, 1f);
        }
        assertEquals(0x1p24 + (n - 1), Kernels.sum(x, n));
        assertEquals(0x1p24 + (n - 1), Kernels.dot(x, Tensor.ofFloats(new long[] {n}, ones(n)).data(), n));
    }

    private static float[] ones(long n) {
        float[] f = new float[(int) n];
        java.util.Arrays.fill(f, 1f);
        return f;
    }

    @Test
    void allFiniteFindsEveryNonFiniteValueAtEveryPosition() {
        long c = ChunkedKernels.CHUNK;
        for (long n : new long[] {1, 15, 16, 17, 33, 100, 4096 + 37, c, 2 * c + 3}) {
            MemorySegment x = randomFloats(n, n);
            assertTrue(Kernels.allFinite(x, n));
            assertEquals(ScalarKernels.allFinite(x, n), Kernels.allFinite(x, n));
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
                    Float.intBitsToFloat(0x7F80_0001), Float.intBitsToFloat(0xFFC0_0000)}) {
                for (long pos = 0; pos < n; pos += Math.max(1, n / 40)) {
                    float saved = x.get(Tensor.F32_LE, pos * 4);
                    x.set(Tensor.F32_LE, pos * 4, bad);
                    assertFalse(Kernels.allFinite(x, n), "n=" + n + " pos=" + pos + " " + bad);
                    assertTrue(Kernels.allFinite(x, pos), "prefix before the bad value");
                    x.set(Tensor.F32_LE, pos * 4, saved);
                }
            }
        }
        MemorySegment extremes = Tensor.ofFloats(new long[] {4}, Float.MAX_VALUE, -Float.MAX_VALUE,
                Float.MIN_VALUE, -0f).data();
        assertTrue(Kernels.allFinite(extremes, 4));
    }

    @Test
    void kernelsWorkOnMemoryMappedAndHeapSegments() {
        float[] values = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
        MemorySegment heap = MemorySegment.ofArray(new byte[values.length * 4]);
        MemorySegment.copy(values, 0, heap, Tensor.F32_LE, 0, values.length);
        assertEquals(190.0, Kernels.sum(heap, values.length));
        Kernels.scale(heap, values.length, 2f);
        assertEquals(380.0, Kernels.sum(heap, values.length));
    }

    @Test
    void sizesAreChecked() {
        MemorySegment x = arena.allocate(40);
        MemorySegment y = arena.allocate(36);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Kernels.axpy(1f, x, y, 10));
        assertEquals("axpy: n = 10 but y holds 9 floats", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Kernels.scale(x, -1, 1f));
        assertThrows(IllegalArgumentException.class,
                () -> Kernels.weightedSum(new MemorySegment[] {x}, new float[] {1f, 2f}, x, 10));
        assertThrows(IllegalArgumentException.class, () -> Kernels.dot(x, y, 10));
        assertThrows(IllegalArgumentException.class, () -> Kernels.sum(y, 10));
    }
}
