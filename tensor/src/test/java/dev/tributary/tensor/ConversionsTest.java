package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * f16 and bf16 conversions checked exhaustively: every 16-bit pattern, and f32 inputs at, just below
 * and just above every halfway point between neighbouring 16-bit values. The vectorized bulk path must
 * give the scalar path's bits on every input.
 */
class ConversionsTest {
    private final Arena arena = Arena.ofAuto();

    private static int bits(float f) {
        return Float.floatToRawIntBits(f);
    }

    @Test
    void everyF16PatternConvertsExactlyAndRoundTrips() {
        MemorySegment all = allShorts();
        Tensor h = Tensor.of(DType.F16, new long[] {65536}, all);
        Tensor f = h.toF32(arena);
        Tensor back = f.castTo(DType.F16, arena);
        for (int p = 0; p < 65536; p++) {
            float scalar = Conversions.f16ToF32((short) p);
            assertEquals(bits(scalar), bits(f.getFloat(p)), "vector f16->f32 of " + hex(p));
            if (!Float.isNaN(scalar)) {
                assertEquals(bits(Float.float16ToFloat((short) p)), bits(scalar), "f16 " + hex(p));
            } else {
                // NaN: sign and payload kept, exponent all ones.
                assertEquals(((p & 0x8000) << 16) | 0x7F80_0000 | ((p & 0x3FF) << 13), bits(scalar));
            }
            assertEquals((short) p, Conversions.f32ToF16(scalar), "scalar round trip of " + hex(p));
            assertEquals((short) p, back.data().get(Tensor.I16_LE, p * 2L), "vector round trip of " + hex(p));
        }
    }

    @Test
    void everyBf16PatternConvertsExactlyAndRoundTrips() {
        Tensor h = Tensor.of(DType.BF16, new long[] {65536}, allShorts());
        Tensor f = h.toF32(arena);
        Tensor back = f.castTo(DType.BF16, arena);
        for (int p = 0; p < 65536; p++) {
            assertEquals(p << 16, bits(f.getFloat(p)), "bf16 " + hex(p));
            assertEquals((short) p, Conversions.f32ToBf16(Float.intBitsToFloat(p << 16)));
            assertEquals((short) p, back.data().get(Tensor.I16_LE, p * 2L), "vector round trip of " + hex(p));
        }
    }

    /**
     * For each pair of neighbouring non-negative f16 values (and the step past the largest finite value
     * to infinity), the f32 halfway point rounds to the one with an even mantissa, and the f32 values
     * one ulp below and above round down and up. Negative values mirror these.
     */
    @Test
    void f32ToF16RoundsToNearestEvenAroundEveryHalfwayPoint() {
        List<float[]> cases = new ArrayList<>();
        for (int lo = 0; lo < 0x7C00; lo++) {
            int hi = lo + 1;
            double a = Float.float16ToFloat((short) lo);
            double b = hi == 0x7C00 ? 65536.0 : Float.float16ToFloat((short) hi);
            float mid = (float) ((a + b) / 2);
            assertEquals((a + b) / 2, mid, "halfway points between f16 values are exact in f32");
            int even = (lo & 1) == 0 ? lo : hi;
            cases.add(new float[] {mid, even});
            cases.add(new float[] {Math.nextDown(mid), lo});
            cases.add(new float[] {Math.nextUp(mid), hi});
        }
        checkRounding(cases, DType.F16);
    }

    /** The same for bf16, whose halfway points are the f32 values with low half exactly 0x8000. */
    @Test
    void f32ToBf16RoundsToNearestEvenAroundEveryHalfwayPoint() {
        List<float[]> cases = new ArrayList<>();
        for (int lo = 0; lo < 0x7F80; lo++) {
            int hi = lo + 1;
            float mid = Float.intBitsToFloat((lo << 16) | 0x8000);
            int even = (lo & 1) == 0 ? lo : hi;
            cases.add(new float[] {mid, even});
            cases.add(new float[] {Math.nextDown(mid), lo});
            cases.add(new float[] {Math.nextUp(mid), hi});
        }
        checkRounding(cases, DType.BF16);
    }

    private void checkRounding(List<float[]> cases, DType dtype) {
        int n = cases.size() * 2;
        Tensor in = Tensor.allocate(DType.F32, new long[] {n}, arena);
        for (int i = 0; i < cases.size(); i++) {
            in.setFloat(2L * i, cases.get(i)[0]);
            in.setFloat(2L * i + 1, -cases.get(i)[0]);
        }
        Tensor out = in.castTo(dtype, arena);
        for (int i = 0; i < cases.size(); i++) {
            float x = cases.get(i)[0];
            int expected = (int) cases.get(i)[1];
            for (int sign = 0; sign < 2; sign++) {
                float v = sign == 0 ? x : -x;
                short want = (short) (expected | (sign << 15));
                short scalar = dtype == DType.F16 ? Conversions.f32ToF16(v) : Conversions.f32ToBf16(v);
                assertEquals(want, scalar, () -> dtype + " of " + v + " (" + Integer.toHexString(bits(v)) + ")");
                assertEquals(want, out.data().get(Tensor.I16_LE, (2L * i + sign) * 2), () -> "vector " + dtype + " of " + v);
                if (dtype == DType.F16) {
                    assertEquals(Float.floatToFloat16(v), scalar, "agrees with the JDK on " + v);
                }
            }
        }
    }

    /** Random f32 patterns (NaNs included): vector and scalar agree bit for bit; f16 agrees with the JDK on non-NaN. */
    @Test
    void vectorAndScalarAgreeOnRandomPatterns() {
        int n = 1 << 20;
        SplittableRandom r = new SplittableRandom(42);
        Tensor in = Tensor.allocate(DType.F32, new long[] {n}, arena);
        for (int i = 0; i < n; i++) {
            in.data().set(Tensor.I32_LE, i * 4L, r.nextInt());
        }
        Tensor f16 = in.castTo(DType.F16, arena);
        Tensor bf16 = in.castTo(DType.BF16, arena);
        for (int i = 0; i < n; i++) {
            float v = in.getFloat(i);
            short h = Conversions.f32ToF16(v);
            assertEquals(h, f16.data().get(Tensor.I16_LE, i * 2L));
            assertEquals(Conversions.f32ToBf16(v), bf16.data().get(Tensor.I16_LE, i * 2L));
            if (Float.isNaN(v)) {
                assertTrue(Float.isNaN(Conversions.f16ToF32(h)), "NaN stays NaN in f16");
                assertTrue(Float.isNaN(Conversions.bf16ToF32(Conversions.f32ToBf16(v))), "NaN stays NaN in bf16");
                assertEquals(bits(v) >>> 31, (h >>> 15) & 1, "NaN keeps its sign");
            } else {
                assertEquals(Float.floatToFloat16(v), h);
            }
        }
    }

    @Test
    void integersRoundHalfEvenAndSaturate() {
        MemorySegment s = arena.allocate(8);
        Conversions.setFloat(DType.I8, s, 0, 2.5f);
        assertEquals(2f, Conversions.getFloat(DType.I8, s, 0));
        Conversions.setFloat(DType.I8, s, 0, -3.5f);
        assertEquals(-4f, Conversions.getFloat(DType.I8, s, 0));
        Conversions.setFloat(DType.I8, s, 0, 1000f);
        assertEquals(127f, Conversions.getFloat(DType.I8, s, 0));
        Conversions.setFloat(DType.U8, s, 0, -5f);
        assertEquals(0f, Conversions.getFloat(DType.U8, s, 0));
        Conversions.setFloat(DType.U16, s, 0, 65535.4f);
        assertEquals(65535f, Conversions.getFloat(DType.U16, s, 0));
        Conversions.setFloat(DType.I32, s, 0, Float.NaN);
        assertEquals(0f, Conversions.getFloat(DType.I32, s, 0));
        Conversions.setFloat(DType.U64, s, 0, 0x1.8p63f);
        assertEquals(0xC000_0000_0000_0000L, s.get(Tensor.I64_LE, 0));
        assertEquals(0x1.8p63f, Conversions.getFloat(DType.U64, s, 0));
        Conversions.setFloat(DType.U64, s, 0, Float.POSITIVE_INFINITY);
        assertEquals(-1L, s.get(Tensor.I64_LE, 0));
        assertEquals(0x1p64f, Conversions.getFloat(DType.U64, s, 0));
        Conversions.setFloat(DType.BOOL, s, 0, -0.5f);
        assertEquals(1f, Conversions.getFloat(DType.BOOL, s, 0));
    }

    @Test
    void bulkConversionsBetweenOtherTypesMatchElementAccess() {
        float[] values = {0f, -1.5f, 3.25f, 1e5f, -7e-3f, 448f, 500f, Float.NaN, 65504f, 1e-8f, -2f};
        Tensor f32 = Tensor.ofFloats(new long[] {values.length}, values);
        for (DType a : DType.values()) {
            if (!a.isArithmetic()) {
                continue;
            }
            Tensor src = f32.castTo(a, arena);
            for (DType b : DType.values()) {
                if (!b.isArithmetic()) {
                    continue;
                }
                Tensor bulk = src.castTo(b, arena);
                Tensor ref = Tensor.allocate(b, src.shape(), arena);
                ScalarKernels.convert(a, src.data(), b, ref.data(), src.numel());
                assertTrue(bulk.contentEquals(ref), a + " -> " + b);
            }
        }
    }

    private MemorySegment allShorts() {
        MemorySegment s = arena.allocate(65536 * 2);
        for (int p = 0; p < 65536; p++) {
            s.set(Tensor.I16_LE, p * 2L, (short) p);
        }
        return s;
    }

    private static String hex(int p) {
        return String.format("0x%04X", p);
    }
}
