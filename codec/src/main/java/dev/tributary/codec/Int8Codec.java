package dev.tributary.codec;

import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * Group-wise absmax int8: per group of {@code group} consecutive values an f32 scale {@code max|x|/127},
 * codes {@code rint(x/scale)} in [-127, 127]. Payload: all the scales, then all the codes.
 */
final class Int8Codec extends GroupScaledCodec {
    private static final float QMAX = 127f;

    Int8Codec(int group) {
        super("int8", group);
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return scaleBytes(numel) + numel;
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        long groups = groups(numel, group);
        long codes = 4 * groups;
        for (long g = 0; g < groups; g++) {
            long from = g * group;
            int len = (int) Math.min(group, numel - from);
            float scale = finiteScale(QuantKernels.absMax(src, from, len), QMAX);
            dst.set(Tensor.F32_LE, 4 * g, scale);
            QuantKernels.quantize(src, from, len, scale, QMAX, dst, codes + from);
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        long groups = groups(numel, group);
        long codes = 4 * groups;
        for (long g = 0; g < groups; g++) {
            long from = g * group;
            int len = (int) Math.min(group, numel - from);
            float scale = checkScale(payload.get(Tensor.F32_LE, 4 * g), "group " + g);
            QuantKernels.dequantize(payload, codes + from, len, scale, dst, from);
        }
    }
}
