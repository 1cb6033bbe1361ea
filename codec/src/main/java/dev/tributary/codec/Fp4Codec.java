package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * FP4 E2M1 with per-group f32 scales (the 4-bit outer gradients of Streaming DiLoCo; the element format
 * of OCP MX FP4): per group of {@code group} consecutive values (row-major, the last group shorter) a
 * scale {@code max|x|/6}, mapping the group's largest magnitude to 6, the largest E2M1 value; each value
 * is {@code e2m1(x / scale)}: a sign bit (bit 3) and a magnitude index m in 0..7 for
 * {0, 0.5, 1, 1.5, 2, 3, 4, 6}, rounded to nearest with ties to the even index; a value whose magnitude
 * rounds to 0 is sent as +0. Codes are packed two per byte, value {@code 2j} in the low nibble of byte
 * {@code j} (zero padding after an odd last value). Payload: all the scales, then the packed codes.
 */
final class Fp4Codec extends GroupScaledCodec {
    private static final float E2M1_MAX = 6f;
    /** The value of each 4-bit code: magnitude index in bits 0..2, sign in bit 3. */
    private static final float[] VALUES = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f,
        -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f};

    Fp4Codec(int group) {
        super("fp4", group);
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return nibblePayload(numel);
    }

    /** The E2M1 magnitude index nearest to {@code y >= 0} (ties to the even index; saturates at 6). */
    static int magnitude(float y) {
        if (y <= 0.25f) {
            return 0;
        } else if (y < 0.75f) {
            return 1;
        } else if (y <= 1.25f) {
            return 2;
        } else if (y < 1.75f) {
            return 3;
        } else if (y <= 2.5f) {
            return 4;
        } else if (y < 3.5f) {
            return 5;
        } else if (y <= 5f) {
            return 6;
        }
        return 7;
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        long codes = scaleBytes(numel);
        for (long from = 0; from < numel; from += group) {
            long n = Math.min(group, numel - from);
            float scale = finiteScale(QuantKernels.absMax(src, from, n), E2M1_MAX);
            dst.set(Tensor.F32_LE, 4 * (from / group), scale);
            for (long i = from; i < from + n; i++) {
                int code = 0;
                if (scale != 0f) {
                    float x = src.get(Tensor.F32_LE, 4 * i);
                    int m = magnitude(Math.abs(x) / scale);
                    code = m != 0 && x < 0 ? m | 8 : m;
                }
                long at = codes + i / 2;
                if ((i & 1) == 0) {
                    dst.set(ValueLayout.JAVA_BYTE, at, (byte) code);
                } else {
                    dst.set(ValueLayout.JAVA_BYTE, at, (byte) (dst.get(ValueLayout.JAVA_BYTE, at) | (code << 4)));
                }
            }
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        long codes = scaleBytes(numel);
        if ((numel & 1) != 0 && (payload.get(ValueLayout.JAVA_BYTE, codes + numel / 2) & 0xF0) != 0) {
            throw new CodecException(Reason.MALFORMED, "padding nibble after the last value is not zero");
        }
        for (long from = 0; from < numel; from += group) {
            long n = Math.min(group, numel - from);
            float scale = checkScale(payload.get(Tensor.F32_LE, 4 * (from / group)), "group " + from / group);
            for (long i = from; i < from + n; i++) {
                int b = payload.get(ValueLayout.JAVA_BYTE, codes + i / 2);
                int code = (i & 1) == 0 ? b & 0xF : (b >> 4) & 0xF;
                dst.set(Tensor.F32_LE, 4 * i, VALUES[code] * scale);
            }
        }
    }
}
