package dev.tributary.tensor;

/**
 * FP8 formats (OCP): E4M3 "fn" (no infinities, max 448, NaN is {@code 0x7F}/{@code 0xFF}) and E5M2
 * (IEEE-like, max 57344, with infinities). Encoding rounds to nearest even and follows PyTorch's c10
 * conversions (as of PyTorch 2.13) bit for bit, including their overflow rules: for E4M3 every input
 * whose rounding goes past 448 (so anything above 464), infinities included, saturates to ±448 and NaN
 * stays NaN; for E5M2 anything that rounds past 57344 (so from 61440 up) becomes infinity and NaN stays
 * NaN. The sign is always kept.
 */
public final class Float8 {
    private Float8() {}

    /** First f32 bit pattern (480.0f) past the E4M3 range; from here on the result saturates. */
    private static final int E4M3_OVERFLOW = 0x43F0_0000;
    /** Smallest normal E4M3 value, 2^-6, as f32 bits. */
    private static final int E4M3_MIN_NORMAL = 121 << 23;
    /** 2^(23-3+1) scaled so adding it rounds an E4M3 subnormal in its low bits. */
    private static final int E4M3_DENORM_MAGIC = 141 << 23;

    /** First f32 bit pattern (65536.0f) past the E5M2 range. */
    private static final int E5M2_OVERFLOW = 143 << 23;
    /** Smallest normal E5M2 value, 2^-14, as f32 bits. */
    private static final int E5M2_MIN_NORMAL = 113 << 23;
    private static final int E5M2_DENORM_MAGIC = 134 << 23;
    private static final int F32_INF = 0x7F80_0000;

    /** E4M3 bits to f32 (exact). */
    public static float e4m3ToF32(byte b) {
        int v = b & 0xFF;
        int sign = v >>> 7;
        int exp = (v >>> 3) & 0xF;
        int man = v & 0x7;
        float r;
        if (exp == 0xF && man == 0x7) {
            r = Float.NaN;
        } else if (exp == 0) {
            r = man * 0x1p-9f;
        } else {
            r = (1 + man / 8f) * (float) Math.scalb(1.0, exp - 7);
        }
        return sign == 1 ? -r : r;
    }

    /** E5M2 bits to f32 (exact): E5M2 is the top byte of an f16. */
    public static float e5m2ToF32(byte b) {
        return Conversions.f16ToF32((short) ((b & 0xFF) << 8));
    }

    /** f32 to E4M3 bits, round to nearest even; out of range and infinities saturate to ±448, NaN stays NaN. */
    public static byte f32ToE4m3(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = bits & 0x8000_0000;
        int abs = bits ^ sign;
        int result;
        if (abs >= E4M3_OVERFLOW) {
            result = abs > F32_INF ? 0x7F : 0x7E;
        } else if (abs < E4M3_MIN_NORMAL) {
            // Adding a power of two whose ulp is the E4M3 subnormal step makes the FPU round for us.
            float shifted = Float.intBitsToFloat(abs) + Float.intBitsToFloat(E4M3_DENORM_MAGIC);
            result = Float.floatToRawIntBits(shifted) - E4M3_DENORM_MAGIC;
        } else {
            int mantOdd = (abs >>> 20) & 1;
            abs += ((7 - 127) << 23) + 0x7FFFF + mantOdd;
            // Rounding up from just above 464 would land on the NaN pattern: saturate instead.
            result = Math.min(abs >>> 20, 0x7E);
        }
        return (byte) (result | (sign >>> 24));
    }

    /** f32 to E5M2 bits, round to nearest even; overflow to infinity, NaN stays NaN. */
    public static byte f32ToE5m2(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = bits & 0x8000_0000;
        int abs = bits ^ sign;
        int result;
        if (abs >= E5M2_OVERFLOW) {
            result = abs > F32_INF ? 0x7F : 0x7C;
        } else if (abs < E5M2_MIN_NORMAL) {
            float shifted = Float.intBitsToFloat(abs) + Float.intBitsToFloat(E5M2_DENORM_MAGIC);
            result = Float.floatToRawIntBits(shifted) - E5M2_DENORM_MAGIC;
        } else {
            int mantOdd = (abs >>> 21) & 1;
            abs += ((15 - 127) << 23) + 0xFFFFF + mantOdd;
            result = abs >>> 21;
        }
        return (byte) (result | (sign >>> 24));
    }
}
