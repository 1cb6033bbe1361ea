package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;

/**
 * Top-k sparsification: per tensor the {@code k = ceil(fraction · numel)} values of largest magnitude
 * (ties: lowest index first). Payload: {@code k} ascending u32 indices, then the {@code k} kept values,
 * as f32 or through a value codec (e.g. int8), which sees them as one 1-d tensor of length {@code k}.
 * Tensors are limited to 2^31 - 1 values.
 */
final class TopKCodec extends TensorCodec {
    private final double fraction;
    /** Codes the kept values; null for plain f32. */
    private final TensorCodec values;

    TopKCodec(double fraction, TensorCodec values) {
        this.fraction = fraction;
        this.values = values;
    }

    static String fractionText(double fraction) {
        return BigDecimal.valueOf(fraction).stripTrailingZeros().toPlainString();
    }

    @Override
    public String spec() {
        return "topk:fraction=" + fractionText(fraction) + (values == null ? "" : "+" + values.spec());
    }

    @Override
    public boolean isLossless() {
        return false;
    }

    /** Values kept of a tensor of {@code numel}. */
    long k(long numel) {
        return Math.min(numel, (long) Math.ceil(fraction * numel));
    }

    private long valuesSize(long k) {
        return values == null ? 4 * k : values.payloadSize(k, new long[] {k});
    }

    /** Indices (as gaps), then the values' sections. */
    @Override
    List<Section> sections(long numel, long[] shape) {
        long k = k(numel);
        Section indices = new Section(4 * k, 4, true);
        if (values == null) {
            return List.of(indices, new Section(4 * k, 4, false));
        }
        List<Section> out = new ArrayList<>();
        out.add(indices);
        out.addAll(values.sections(k, new long[] {k}));
        return out;
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        long k = k(numel);
        return 4 * k + valuesSize(k);
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        if (numel > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("top-k takes tensors of at most 2^31 - 1 values, got " + numel);
        }
        int k = (int) k(numel);
        int[] idx = TopK.select(src, (int) numel, k);
        MemorySegment.copy(idx, 0, dst, Tensor.I32_LE, 0, k);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment kept = values == null ? dst.asSlice(4L * k, 4L * k) : scratch.allocate(4L * k, 64);
            for (int j = 0; j < k; j++) {
                kept.set(Tensor.F32_LE, 4L * j, src.get(Tensor.F32_LE, 4L * idx[j]));
            }
            if (values != null) {
                values.encodeInto(kept, k, new long[] {k}, dst.asSlice(4L * k));
            }
        }
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        long k = k(numel);
        if (numel > Integer.MAX_VALUE) {
            throw new CodecException(Reason.MALFORMED, "top-k of " + numel + " values (at most 2^31 - 1)");
        }
        dst.fill((byte) 0);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment kept = payload.asSlice(4 * k);
            if (values != null) {
                kept = scratch.allocate(4 * k, 64);
                values.decodeInto(payload.asSlice(4 * k), k, new long[] {k}, kept);
            }
            scatter(payload, kept, k, numel, dst);
        }
    }

    /** Writes the kept values at their indices, checking that the indices ascend and stay inside. */
    private static void scatter(MemorySegment payload, MemorySegment kept, long k, long numel, MemorySegment dst)
            throws CodecException {
        long previous = -1;
        for (long j = 0; j < k; j++) {
            long i = payload.get(Tensor.I32_LE, 4 * j) & 0xFFFF_FFFFL;
            if (i <= previous || i >= numel) {
                throw new CodecException(Reason.MALFORMED, "index #" + j + " = " + i + (i >= numel ? " >= " + numel
                        : " not above the previous " + previous));
            }
            dst.set(Tensor.F32_LE, 4 * i, kept.get(Tensor.F32_LE, 4 * j));
            previous = i;
        }
    }
}
