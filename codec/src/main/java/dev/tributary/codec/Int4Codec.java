package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Group-wise absmax int4: per group of {@code group} values an f32 scale {@code max|x|/7}, codes
 * {@code rint(x/scale)} in [-7, 7] as 4-bit two's complement, two per byte: value {@code 2j} in the low
 * nibble of byte {@code j}, value {@code 2j+1} in the high one (zero padding after an odd last value).
 * Payload: all the scales, then the packed codes. Work goes in blocks of whole groups so that the codes
 * of one block are quantized by vector into native scratch memory and packed in a tight loop.
 */
final class Int4Codec extends GroupScaledCodec {
    private static final float QMAX = 7f;
    private static final int BLOCK_TARGET = 8192;
    /** Elements per block: whole groups, an even count, near {@link #BLOCK_TARGET}. */
    private final int block;

    Int4Codec(int group) {
        super("int4", group);
        int b = group * Math.max(1, BLOCK_TARGET / group);
        this.block = (b & 1) == 0 ? b : 2 * b;
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return nibblePayload(numel);
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        long codes = scaleBytes(numel);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment q = scratch.allocate(Math.max(1, Math.min(block, numel)), 64);
            for (long start = 0; start < numel; start += block) {
                int len = (int) Math.min(block, numel - start);
                quantizeBlock(src, start, len, dst, q);
                pack(q, len, dst, codes + start / 2);
            }
        }
    }

    private void quantizeBlock(MemorySegment src, long start, int len, MemorySegment dst, MemorySegment q) {
        for (int off = 0; off < len; off += group) {
            long from = start + off;
            int n = Math.min(group, len - off);
            float scale = finiteScale(QuantKernels.absMax(src, from, n), QMAX);
            dst.set(Tensor.F32_LE, 4 * (from / group), scale);
            QuantKernels.quantize(src, from, n, scale, QMAX, q, off);
        }
    }

    /** Packs {@code len} codes two per byte into {@code dst} from byte {@code at}. */
    private static void pack(MemorySegment q, int len, MemorySegment dst, long at) {
        int pairs = len / 2;
        for (int j = 0; j < pairs; j++) {
            byte lo = q.get(ValueLayout.JAVA_BYTE, 2L * j);
            byte hi = q.get(ValueLayout.JAVA_BYTE, 2L * j + 1);
            dst.set(ValueLayout.JAVA_BYTE, at + j, (byte) ((lo & 0xF) | (hi << 4)));
        }
        if ((len & 1) != 0) {
            dst.set(ValueLayout.JAVA_BYTE, at + pairs, (byte) (q.get(ValueLayout.JAVA_BYTE, len - 1L) & 0xF));
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        long codes = scaleBytes(numel);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment q = scratch.allocate(Math.max(1, Math.min(block, numel)), 64);
            for (long start = 0; start < numel; start += block) {
                int len = (int) Math.min(block, numel - start);
                unpack(payload, codes + start / 2, len, q);
                for (int off = 0; off < len; off += group) {
                    long from = start + off;
                    int n = Math.min(group, len - off);
                    float scale = checkScale(payload.get(Tensor.F32_LE, 4 * (from / group)), "group " + from / group);
                    QuantKernels.dequantize(q, off, n, scale, dst, from);
                }
            }
        }
    }

    /** Unpacks {@code len} signed 4-bit codes from byte {@code at} of {@code payload} into bytes of {@code q}. */
    private static void unpack(MemorySegment payload, long at, int len, MemorySegment q) throws CodecException {
        int pairs = len / 2;
        for (int j = 0; j < pairs; j++) {
            byte b = payload.get(ValueLayout.JAVA_BYTE, at + j);
            q.set(ValueLayout.JAVA_BYTE, 2L * j, (byte) ((b << 28) >> 28));
            q.set(ValueLayout.JAVA_BYTE, 2L * j + 1, (byte) (b >> 4));
        }
        if ((len & 1) != 0) {
            byte b = payload.get(ValueLayout.JAVA_BYTE, at + pairs);
            if ((b & 0xF0) != 0) {
                throw new CodecException(Reason.MALFORMED, "padding nibble after the last value is not zero");
            }
            q.set(ValueLayout.JAVA_BYTE, len - 1L, (byte) ((b << 28) >> 28));
        }
    }
}
