package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * FP8 against PyTorch (fixtures: all 256 patterns decoded, thousands of tricky inputs encoded) and
 * against a brute-force nearest-even search over every representable value.
 */
class Float8Test {
    private static final Json.Obj TABLE = TestFixtures.json("f8.json");

    private static int bits(float f) {
        return Float.floatToRawIntBits(f);
    }

    @Test
    void decodingMatchesPyTorchForAll256Patterns() {
        long[] e4m3 = TestFixtures.longs(TABLE, "e4m3_decode");
        long[] e5m2 = TestFixtures.longs(TABLE, "e5m2_decode");
        for (int b = 0; b < 256; b++) {
            checkDecoded((int) e4m3[b], Float8.e4m3ToF32((byte) b), "e4m3 " + b);
            checkDecoded((int) e5m2[b], Float8.e5m2ToF32((byte) b), "e5m2 " + b);
        }
    }

    private static void checkDecoded(int expectedBits, float actual, String what) {
        float expected = Float.intBitsToFloat(expectedBits);
        if (Float.isNaN(expected)) {
            assertTrue(Float.isNaN(actual), what + " is NaN");
        } else {
            assertEquals(expectedBits, bits(actual), what);
        }
    }

    @Test
    void encodingMatchesPyTorchOnEveryTrickyInput() {
        long[] inputs = TestFixtures.longs(TABLE, "inputs");
        long[] e4m3 = TestFixtures.longs(TABLE, "e4m3_encode");
        long[] e5m2 = TestFixtures.longs(TABLE, "e5m2_encode");
        assertTrue(inputs.length > 5000, "fixture has the full input list");
        for (int i = 0; i < inputs.length; i++) {
            float v = Float.intBitsToFloat((int) inputs[i]);
            String what = Float.toString(v) + " (0x" + Long.toHexString(inputs[i]) + ")";
            assertEquals((int) e4m3[i], Float8.f32ToE4m3(v) & 0xFF, "e4m3 of " + what);
            assertEquals((int) e5m2[i], Float8.f32ToE5m2(v) & 0xFF, "e5m2 of " + what);
        }
    }

    @Test
    void everyFiniteValueEncodesBackToItself() {
        for (int b = 0; b < 256; b++) {
            float e4 = Float8.e4m3ToF32((byte) b);
            if (!Float.isNaN(e4)) {
                assertEquals(b, Float8.f32ToE4m3(e4) & 0xFF, "e4m3 " + b);
            }
            float e5 = Float8.e5m2ToF32((byte) b);
            if (!Float.isNaN(e5)) {
                assertEquals(b, Float8.f32ToE5m2(e5) & 0xFF, "e5m2 " + b);
            }
        }
    }

    @Test
    void specialValuesFollowTheC10Rules() {
        assertEquals(0x7E, Float8.f32ToE4m3(448f));
        assertEquals(0x7E, Float8.f32ToE4m3(464f), "halfway to the next step ties to even 448");
        assertEquals(0x7E, Float8.f32ToE4m3(Math.nextUp(464f)), "rounds past 448: saturates");
        assertEquals(0x7E, Float8.f32ToE4m3(1e30f));
        assertEquals((byte) 0xFE, Float8.f32ToE4m3(Float.NEGATIVE_INFINITY), "infinity saturates too");
        assertEquals(0x7F, Float8.f32ToE4m3(Float.NaN));
        assertEquals((byte) 0xFF, Float8.f32ToE4m3(Float.intBitsToFloat(0xFFC0_0000)));
        assertEquals(0x7B, Float8.f32ToE5m2(57344f));
        assertEquals(0x7C, Float8.f32ToE5m2(61440f), "halfway past the largest finite value ties to infinity");
        assertEquals(0x7B, Float8.f32ToE5m2(Math.nextDown(61440f)));
        assertEquals((byte) 0xFC, Float8.f32ToE5m2(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F, Float8.f32ToE5m2(Float.NaN) & 0x7F);
        assertEquals(0x00, Float8.f32ToE4m3(0x1p-10f), "half the smallest subnormal ties to zero");
        assertEquals(0x01, Float8.f32ToE4m3(Math.nextUp(0x1p-10f)));
        assertEquals((byte) 0x80, Float8.f32ToE4m3(-0f));
    }

    /** Nearest-even by search over the sorted finite values, compared on a million spread-out f32 inputs. */
    @Test
    void encodingIsNearestEvenEverywhereInRange() {
        checkNearestEven(true);
        checkNearestEven(false);
    }

    private static void checkNearestEven(boolean e4m3) {
        float[] values = new float[128];
        int[] codes = new int[128];
        int count = 0;
        for (int b = 0; b < 128; b++) {
            float v = e4m3 ? Float8.e4m3ToF32((byte) b) : Float8.e5m2ToF32((byte) b);
            if (Float.isFinite(v)) {
                values[count] = v;
                codes[count++] = b;
            }
        }
        float[] sorted = Arrays.copyOf(values, count);
        float max = sorted[count - 1];
        float step = max - sorted[count - 2];
        for (int x = 0; x < 0x4800_0000; x += 1021) {
            float v = Float.intBitsToFloat(x);
            int got = (e4m3 ? Float8.f32ToE4m3(v) : Float8.f32ToE5m2(v)) & 0xFF;
            int expected;
            if (v > max + step / 2 || (v == max + step / 2 && (codes[count - 1] & 1) == 1)) {
                expected = e4m3 ? codes[count - 1] : 0x7C; // E4M3 saturates, E5M2 overflows to infinity
            } else {
                int i = Arrays.binarySearch(sorted, v);
                if (i >= 0) {
                    expected = codes[i];
                } else {
                    int hi = -i - 1;
                    if (hi == count) {
                        expected = codes[count - 1];
                    } else {
                        int lo = hi - 1;
                        double dl = (double) v - sorted[lo];
                        double dh = (double) sorted[hi] - v;
                        expected = dl < dh ? codes[lo] : dh < dl ? codes[hi] : ((codes[lo] & 1) == 0 ? codes[lo] : codes[hi]);
                    }
                }
            }
            assertEquals(expected, got, (e4m3 ? "e4m3" : "e5m2") + " of " + v);
        }
    }
}
