package dev.tributary.codec;

import dev.tributary.tensor.Conversions;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** f16 or bf16: each value rounded to nearest even (the tensor module's conversions); f16 saturates. */
final class HalfCodec extends TensorCodec {
    /** Smallest f32 that rounds to f16 infinity; from here on the f16 codec writes ±65504 instead. */
    private static final float F16_OVERFLOW = 65520f;
    private static final short F16_INF = 0x7C00;
    private static final short F16_MAX = 0x7BFF;

    private final DType dtype;

    HalfCodec(DType dtype) {
        if (dtype != DType.F16 && dtype != DType.BF16) {
            throw new IllegalArgumentException("half codec of " + dtype);
        }
        this.dtype = dtype;
    }

    @Override
    public String spec() {
        return dtype == DType.F16 ? "f16" : "bf16";
    }

    @Override
    public boolean isLossless() {
        return false;
    }

    @Override
    boolean checksFinitenessItself() {
        return true;
    }

    /** Two-byte values: the high bytes (sign, exponent) compress apart from the low ones. */
    @Override
    List<Section> sections(long numel, long[] shape) {
        return List.of(new Section(2 * numel, 2, false));
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return 2 * numel;
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        float absMax = QuantKernels.absMax(src, 0, numel);
        if (!Float.isFinite(absMax)) {
            throw new NotFinite();
        }
        Conversions.convert(Tensor.of(DType.F32, shape, src), Tensor.of(dtype, shape, dst));
        if (dtype == DType.F16 && absMax >= F16_OVERFLOW) {
            for (long i = 0; i < numel; i++) {
                short h = dst.get(Tensor.I16_LE, 2 * i);
                if ((h & 0x7FFF) == F16_INF) {
                    dst.set(Tensor.I16_LE, 2 * i, (short) ((h & 0x8000) | F16_MAX));
                }
            }
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) {
        Conversions.convert(Tensor.of(dtype, shape, payload), Tensor.of(DType.F32, shape, dst));
    }
}
