package dev.tributary.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Conversions between element types and f32, all rounding to nearest even. Element access by index is
 * here; the bulk loops in {@link #convert} are what hot paths use.
 */
public final class Conversions {
    private Conversions() {}

    /** 2^112: scales an f16 exponent and mantissa placed in f32 position to their value. */
    private static final float F16_SCALE = 0x1p112f;
    /** 0.5f: adding it rounds a tiny f32 to the f16 subnormal grid (ulp 2^-24). */
    private static final int F16_DENORM_MAGIC = 126 << 23;

    /**
     * f16 bits to f32 (exact). A NaN keeps its sign and payload bit for bit (signaling stays signaling),
     * so f16 → f32 → f16 returns every pattern unchanged; unlike {@link Float#float16ToFloat}, whose NaN
     * results depend on the platform.
     */
    public static float f16ToF32(short bits) {
        int h = bits & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int em = h & 0x7FFF;
        if (em >= 0x7C00) {
            int man = em & 0x3FF;
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (man << 13));
        }
        // Normals and subnormals alike: the bits shifted into f32 position, scaled by 2^(127-15).
        float magnitude = Float.intBitsToFloat(em << 13) * F16_SCALE;
        return Float.intBitsToFloat(sign | Float.floatToRawIntBits(magnitude));
    }

    /**
     * f32 to f16 bits, round to nearest even; overflow to ±Inf. A NaN keeps its sign and its top ten
     * payload bits; when those are all zero the quiet bit is set so that it stays a NaN.
     */
    public static short f32ToF16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFF_FFFF;
        int r;
        if (abs > 0x7F80_0000) {
            int payload = (abs >>> 13) & 0x3FF;
            r = 0x7C00 | (payload != 0 ? payload : 0x200);
        } else if (abs >= (127 + 16) << 23) {
            r = 0x7C00;
        } else if (abs < 113 << 23) {
            float shifted = Float.intBitsToFloat(abs) + Float.intBitsToFloat(F16_DENORM_MAGIC);
            r = Float.floatToRawIntBits(shifted) - F16_DENORM_MAGIC;
        } else {
            int mantOdd = (abs >>> 13) & 1;
            r = (abs + ((15 - 127) << 23) + 0xFFF + mantOdd) >>> 13;
        }
        return (short) (r | sign);
    }

    /** bf16 bits to f32 (exact). */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * f32 to bf16 bits, round to nearest even. A NaN keeps its sign and top payload bits; when those are
     * all zero the quiet bit is set so that it stays a NaN.
     */
    public static short f32ToBf16(float v) {
        int b = Float.floatToRawIntBits(v);
        if ((b & 0x7FFF_FFFF) > 0x7F80_0000) {
            int high = b >>> 16;
            return (short) ((high & 0x7F) != 0 ? high : high | 0x0040);
        }
        int rounding = 0x7FFF + ((b >>> 16) & 1);
        return (short) ((b + rounding) >>> 16);
    }

    /** Element {@code i} of a tensor of {@code dtype} stored in {@code seg}, as f32. */
    public static float getFloat(DType dtype, MemorySegment seg, long i) {
        return switch (dtype) {
            case F32 -> seg.get(Tensor.F32_LE, i * 4);
            case F16 -> f16ToF32(seg.get(Tensor.I16_LE, i * 2));
            case BF16 -> bf16ToF32(seg.get(Tensor.I16_LE, i * 2));
            case F64 -> (float) seg.get(Tensor.F64_LE, i * 8);
            case F8_E4M3 -> Float8.e4m3ToF32(seg.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> Float8.e5m2ToF32(seg.get(ValueLayout.JAVA_BYTE, i));
            case BOOL, U8 -> seg.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case I16 -> seg.get(Tensor.I16_LE, i * 2);
            case U16 -> seg.get(Tensor.I16_LE, i * 2) & 0xFFFF;
            case I32 -> seg.get(Tensor.I32_LE, i * 4);
            case U32 -> seg.get(Tensor.I32_LE, i * 4) & 0xFFFF_FFFFL;
            case I64 -> seg.get(Tensor.I64_LE, i * 8);
            case U64 -> unsignedToFloat(seg.get(Tensor.I64_LE, i * 8));
            default -> throw new UnsupportedOperationException(dtype + " values cannot be read as numbers");
        };
    }

    /** Sets element {@code i} from f32, rounding to nearest even (integers: round half even, saturating). */
    public static void setFloat(DType dtype, MemorySegment seg, long i, float v) {
        switch (dtype) {
            case F32 -> seg.set(Tensor.F32_LE, i * 4, v);
            case F16 -> seg.set(Tensor.I16_LE, i * 2, f32ToF16(v));
            case BF16 -> seg.set(Tensor.I16_LE, i * 2, f32ToBf16(v));
            case F64 -> seg.set(Tensor.F64_LE, i * 8, v);
            case F8_E4M3 -> seg.set(ValueLayout.JAVA_BYTE, i, Float8.f32ToE4m3(v));
            case F8_E5M2 -> seg.set(ValueLayout.JAVA_BYTE, i, Float8.f32ToE5m2(v));
            case BOOL -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) (v != 0 ? 1 : 0));
            case U8 -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) clampRound(v, 0, 255));
            case I8 -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) clampRound(v, -128, 127));
            case I16 -> seg.set(Tensor.I16_LE, i * 2, (short) clampRound(v, Short.MIN_VALUE, Short.MAX_VALUE));
            case U16 -> seg.set(Tensor.I16_LE, i * 2, (short) clampRound(v, 0, 65535));
            case I32 -> seg.set(Tensor.I32_LE, i * 4, (int) clampRound(v, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case U32 -> seg.set(Tensor.I32_LE, i * 4, (int) clampRound(v, 0, 0xFFFF_FFFFL));
            case I64 -> seg.set(Tensor.I64_LE, i * 8, (long) Math.rint(v));
            case U64 -> seg.set(Tensor.I64_LE, i * 8, toUnsigned64(v));
            default -> throw new UnsupportedOperationException(dtype + " values cannot be written from numbers");
        }
    }

    /**
     * Converts every element of {@code src} into {@code dst} (same element count), rounding to nearest
     * even. Same dtype is a byte copy.
     */
    public static void convert(Tensor src, Tensor dst) {
        if (src.numel() != dst.numel()) {
            throw new IllegalArgumentException("convert: " + src.numel() + " elements into " + dst.numel());
        }
        if (src.dtype() == dst.dtype()) {
            MemorySegment.copy(src.data(), 0, dst.data(), 0, src.byteSize());
            return;
        }
        if (!src.dtype().isArithmetic() || !dst.dtype().isArithmetic()) {
            throw new UnsupportedOperationException("cannot convert " + src.dtype() + " to " + dst.dtype());
        }
        if (src.dtype() == DType.F32 || dst.dtype() == DType.F32) {
            if (Kernels.convertFromToF32(src.dtype(), src.data(), dst.dtype(), dst.data(), src.numel())) {
                return;
            }
        }
        MemorySegment s = src.data();
        MemorySegment d = dst.data();
        DType st = src.dtype();
        DType dt = dst.dtype();
        for (long i = 0, n = src.numel(); i < n; i++) {
            setFloat(dt, d, i, getFloat(st, s, i));
        }
    }

    private static long clampRound(float v, long lo, long hi) {
        if (Float.isNaN(v)) {
            return 0;
        }
        double r = Math.rint(v);
        return (long) Math.max(lo, Math.min(hi, r));
    }

    /** Round half even, saturating to [0, 2^64 - 1]; NaN becomes 0. */
    private static long toUnsigned64(float v) {
        if (!(v > 0)) {
            return 0;
        }
        if (v < 0x1p63f) {
            return (long) Math.rint(v);
        }
        if (v >= 0x1p64f) {
            return -1L;
        }
        // Floats this large are integers, and v - 2^63 is exact.
        return (long) (v - 0x1p63f) ^ Long.MIN_VALUE;
    }

    private static float unsignedToFloat(long v) {
        return v >= 0 ? (float) v : (float) ((v >>> 1) | (v & 1)) * 2f;
    }
}
