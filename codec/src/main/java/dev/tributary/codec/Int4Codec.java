package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Group-wise absmax int4: per group of {@code group} values an f32 scale {@code max|x|/7}, codes
 * {@code rint(x/scale)} in [-7, 7] as 4-bit two's complement, two per byte: value {@code 2j} in the low
 * nibble of byte {@code j}, value {@code 2j+1} in the high one (zero padding after an odd last value).
 * Payload: all the scales, then the packed codes. Work goes in blocks of whole groups so that the codes
 * of one block are quantized by vector into a scratch array and packed in a tight loop.
 */
final class Int4Codec extends TensorCodec {
    private static final float QMAX = 7f;
    private static final int BLOCK_TARGET = 8192;
    private final int group;
    /** Elements per block: whole groups, an even count, near {@link #BLOCK_TARGET}. */
    private final int block;

    Int4Codec(int group) {
        this.group = group;
        int b = group * Math.max(1, BLOCK_TARGET / group);
        this.block = (b & 1) == 0 ? b : 2 * b;
    }

    @Override
    public String spec() {
        return "int4:group=" + group;
    }

    @Override
    public boolean isLossless() {
        return false;
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return 4 * Int8Codec.groups(numel, group) + (numel + 1) / 2;
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        long codes = 4 * Int8Codec.groups(numel, group);
        byte[] q = new byte[(int) Math.min(block, numel)];
        byte[] packed = new byte[(q.length + 1) / 2];
        MemorySegment qs = MemorySegment.ofArray(q);
        for (long start = 0; start < numel; start += block) {
            int len = (int) Math.min(block, numel - start);
            for (int off = 0; off < len; off += group) {
                long from = start + off;
                int n = Math.min(group, len - off);
                float scale = QuantKernels.scale(QuantKernels.absMax(src, from, n), QMAX);
                dst.set(Tensor.F32_LE, 4 * (from / group), scale);
                QuantKernels.quantize(src, from, n, scale, QMAX, qs, off);
            }
            int pairs = len / 2;
            for (int j = 0; j < pairs; j++) {
                packed[j] = (byte) ((q[2 * j] & 0xF) | (q[2 * j + 1] << 4));
            }
            int bytes = (len + 1) / 2;
            if ((len & 1) != 0) {
                packed[pairs] = (byte) (q[len - 1] & 0xF);
            }
            MemorySegment.copy(packed, 0, dst, ValueLayout.JAVA_BYTE, codes + start / 2, bytes);
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        long codes = 4 * Int8Codec.groups(numel, group);
        byte[] q = new byte[(int) Math.min(block, numel)];
        byte[] packed = new byte[(q.length + 1) / 2];
        MemorySegment qs = MemorySegment.ofArray(q);
        for (long start = 0; start < numel; start += block) {
            int len = (int) Math.min(block, numel - start);
            int bytes = (len + 1) / 2;
            MemorySegment.copy(payload, ValueLayout.JAVA_BYTE, codes + start / 2, packed, 0, bytes);
            int pairs = len / 2;
            for (int j = 0; j < pairs; j++) {
                byte b = packed[j];
                q[2 * j] = (byte) ((b << 28) >> 28);
                q[2 * j + 1] = (byte) (b >> 4);
            }
            if ((len & 1) != 0) {
                byte b = packed[pairs];
                if ((b & 0xF0) != 0) {
                    throw new CodecException(Reason.MALFORMED, "padding nibble after the last value is not zero");
                }
                q[len - 1] = (byte) ((b << 28) >> 28);
            }
            for (int off = 0; off < len; off += group) {
                long from = start + off;
                int n = Math.min(group, len - off);
                float scale = checkScale(payload.get(Tensor.F32_LE, 4 * (from / group)), "group " + from / group);
                QuantKernels.dequantize(qs, off, n, scale, dst, from);
            }
        }
    }
}
