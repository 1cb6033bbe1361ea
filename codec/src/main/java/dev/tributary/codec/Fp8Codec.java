package dev.tributary.codec;

import dev.tributary.tensor.Float8;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * FP8 E4M3 with per-row f32 scales (as torchft sends): a row is the last dimension (a tensor of rank 0
 * or 1 is one row); its scale maps the row's max |x| to 448, the largest E4M3 value; each value is
 * {@code e4m3(x / scale)}, rounded to nearest even by the tensor module's conversion. Payload: the row
 * scales, then one byte per value.
 */
final class Fp8Codec extends TensorCodec {
    private static final float E4M3_MAX = 448f;
    /** Every E4M3 byte's value, for decoding by table. */
    private static final float[] VALUES = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            VALUES[b] = Float8.e4m3ToF32((byte) b);
        }
    }

    @Override
    public String spec() {
        return "fp8";
    }

    @Override
    public boolean isLossless() {
        return false;
    }

    @Override
    boolean checksFinitenessItself() {
        return true;
    }

    /** Values per row: the last dimension for rank 2 and up, else the whole tensor. */
    static long rowLength(long numel, long[] shape) {
        return shape.length >= 2 ? shape[shape.length - 1] : numel;
    }

    static long rows(long numel, long[] shape) {
        long c = rowLength(numel, shape);
        return c == 0 ? 0 : numel / c;
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return 4 * rows(numel, shape) + numel;
    }

    /** Row scales (f32) apart from codes (bytes). */
    @Override
    List<Section> sections(long numel, long[] shape) {
        long scales = 4 * rows(numel, shape);
        return List.of(new Section(scales, 4, false), new Section(numel, 1, false));
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        long rows = rows(numel, shape);
        long c = rowLength(numel, shape);
        long codes = 4 * rows;
        for (long r = 0; r < rows; r++) {
            long from = r * c;
            float scale = finiteScale(QuantKernels.absMax(src, from, c), E4M3_MAX);
            dst.set(Tensor.F32_LE, 4 * r, scale);
            for (long i = from; i < from + c; i++) {
                byte q = scale == 0f ? 0 : Float8.f32ToE4m3(src.get(Tensor.F32_LE, 4 * i) / scale);
                dst.set(ValueLayout.JAVA_BYTE, codes + i, q);
            }
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        long rows = rows(numel, shape);
        long c = rowLength(numel, shape);
        long codes = 4 * rows;
        for (long r = 0; r < rows; r++) {
            long from = r * c;
            float scale = checkScale(payload.get(Tensor.F32_LE, 4 * r), "row " + r);
            for (long i = from; i < from + c; i++) {
                dst.set(Tensor.F32_LE, 4 * i, VALUES[payload.get(ValueLayout.JAVA_BYTE, codes + i) & 0xFF] * scale);
            }
        }
    }
}
