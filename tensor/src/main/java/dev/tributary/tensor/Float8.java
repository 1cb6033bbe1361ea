package dev.tributary.tensor;

/** FP8 formats (OCP): E4M3 "fn" (no infinities, max 448) and E5M2 (IEEE-like), round to nearest even. */
public final class Float8 {
    private Float8() {}

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

    public static float e5m2ToF32(byte b) {
        return Float.float16ToFloat((short) ((b & 0xFF) << 8));
    }

    public static byte f32ToE4m3(float v) {
        throw new UnsupportedOperationException("e4m3 encode");
    }

    public static byte f32ToE5m2(float v) {
        throw new UnsupportedOperationException("e5m2 encode");
    }
}
