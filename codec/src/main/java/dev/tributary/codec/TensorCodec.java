package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What every codec shares: the container (header, payloads in order, checksum), input checks, and the
 * decoding order: check the whole header against the limits and the layout, then allocate, then decode
 * each payload. Subclasses code one tensor at a time.
 */
abstract sealed class TensorCodec implements Codec
        permits HalfCodec, GroupScaledCodec, Fp8Codec, TopKCodec, LosslessCodec, LosslessStage {

    /** Exact payload size of a tensor of this shape, or -1 when it depends on the values. */
    abstract long payloadSize(long numel, long[] shape);

    /** Largest payload a well-formed message may declare for this shape (the exact size when fixed). */
    long maxPayloadSize(long numel, long[] shape) {
        return payloadSize(numel, shape);
    }

    /** Encodes {@code numel} f32 values into {@code dst}, exactly {@link #payloadSize} bytes. */
    abstract void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst);

    /** The payload of a codec whose size depends on the values ({@link #payloadSize} is -1). */
    byte[] encodeVariable(MemorySegment src, long numel, long[] shape) {
        throw new UnsupportedOperationException(spec() + " has fixed-size payloads");
    }

    /** Decodes one payload (already checked against {@link #maxPayloadSize}) into {@code numel} f32, all written. */
    abstract void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException;

    /**
     * One run of a payload whose elements share a width (f32 scales, one-byte codes, u32 indices), which a
     * {@link LosslessStage} byte-groups and compresses apart from the others; {@code ascending} marks
     * ascending u32 indices, sent as gaps.
     */
    record Section(long bytes, int width, boolean ascending) {}

    /** The sections of a fixed-size payload, in order, covering it exactly; by default one run of bytes. */
    List<Section> sections(long numel, long[] shape) {
        return List.of(new Section(payloadSize(numel, shape), 1, false));
    }

    @Override
    public boolean hasFixedSize() {
        return payloadSize(1, new long[] {1}) >= 0;
    }

    /** Whether a message that names {@code other}'s spec is read by this codec. */
    boolean reads(TensorCodec other) {
        return other.spec().equals(spec());
    }

    @Override
    public String toString() {
        return spec();
    }

    @Override
    public final byte[] encode(TensorMap delta) {
        List<Format.Entry> entries = new ArrayList<>(delta.size());
        List<byte[]> variable = new ArrayList<>(delta.size());
        long payloads = 0;
        for (Map.Entry<String, Tensor> e : delta.asMap().entrySet()) {
            Tensor t = e.getValue();
            checkInput(e.getKey(), t);
            long size = payloadSize(t.numel(), t.shape());
            byte[] v = null;
            if (size < 0) {
                try {
                    v = encodeVariable(t.data(), t.numel(), t.shape());
                } catch (NotFinite x) {
                    throw notFinite(e.getKey());
                }
                size = v.length;
            }
            variable.add(v);
            entries.add(new Format.Entry(e.getKey(), DType.F32, t.shape(), size, -1));
            payloads = Math.addExact(payloads, size);
        }
        byte[] header = Format.header(Format.CODEC_MAGIC, spec(), entries);
        byte[] out = new byte[Format.messageSize(header, payloads)];
        System.arraycopy(header, 0, out, 0, header.length);
        long largest = 0;
        for (int i = 0; i < entries.size(); i++) {
            if (variable.get(i) == null) {
                largest = Math.max(largest, entries.get(i).payloadLength());
            }
        }
        long off = header.length;
        int i = 0;
        try (Arena scratch = Arena.ofConfined()) {
            // The vector kernels write to native memory (they are far slower into heap arrays), then one copy.
            MemorySegment stage = scratch.allocate(Math.max(1, largest), 64);
            for (Tensor t : delta.asMap().values()) {
                Format.Entry entry = entries.get(i);
                byte[] v = variable.get(i++);
                if (v != null) {
                    System.arraycopy(v, 0, out, (int) off, v.length);
                } else {
                    long n = entry.payloadLength();
                    try {
                        encodeInto(t.data(), t.numel(), t.shape(), stage.asSlice(0, n));
                    } catch (NotFinite x) {
                        throw notFinite(entry.name());
                    }
                    MemorySegment.copy(stage, ValueLayout.JAVA_BYTE, 0, out, (int) off, (int) n);
                }
                off += entry.payloadLength();
            }
        }
        Format.seal(out);
        return out;
    }

    private void checkInput(String name, Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("tensor " + name + ": dtype " + t.dtype() + ", codecs encode F32 only");
        }
        if (!isLossless() && !checksFinitenessItself() && !Float.isFinite(QuantKernels.absMax(t.data(), 0, t.numel()))) {
            throw notFinite(name);
        }
    }

    private IllegalArgumentException notFinite(String name) {
        return new IllegalArgumentException("tensor " + name + ": holds NaN or infinity; " + spec()
                + " encodes finite values only");
    }

    /**
     * True for codecs whose encoding finds every group's max |x| anyway and throws {@link NotFinite}
     * on a non-finite one, which saves the separate pass over the input.
     */
    boolean checksFinitenessItself() {
        return false;
    }

    /** Thrown by {@link #encodeInto} of codecs that check finiteness themselves; named by the caller. */
    static final class NotFinite extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NotFinite() {
            super(null, null, false, false);
        }
    }

    /** The group's scale, or {@link NotFinite} when its max |x| is NaN or infinite. */
    static float finiteScale(float absMax, float qmax) {
        if (!Float.isFinite(absMax)) {
            throw new NotFinite();
        }
        return QuantKernels.scale(absMax, qmax);
    }

    @Override
    public final TensorMap decode(MemorySegment bytes, List<TensorInfo> layout, DecodeLimits limits, Arena arena)
            throws CodecException {
        TensorMap out = new TensorMap();
        decode(bytes, layout, limits, e -> {
            Tensor t = Tensor.allocate(DType.F32, e.shape(), arena);
            out.put(e.name(), t);
            return t;
        });
        return out;
    }

    @Override
    public final void decodeInto(MemorySegment bytes, TensorMap into, DecodeLimits limits) throws CodecException {
        List<TensorInfo> layout = into.infos();
        for (TensorInfo i : layout) {
            if (i.dtype() != DType.F32) {
                throw new IllegalArgumentException("tensor " + i.name() + ": dtype " + i.dtype() + ", decodeInto fills F32 only");
            }
        }
        decode(bytes, layout, limits, e -> into.tensor(e.name()));
    }

    /** Checks the whole header, then decodes each payload into the tensor {@code target} gives for it. */
    private void decode(MemorySegment bytes, List<TensorInfo> layout, DecodeLimits limits,
                        Function<Format.Entry, Tensor> target) throws CodecException {
        Format.Header h = Format.read(Format.CODEC_MAGIC, bytes, layout, limits, DType.F32);
        TensorCodec named;
        try {
            named = CodecSpec.parse(h.spec());
        } catch (IllegalArgumentException e) {
            throw new CodecException(Reason.UNSUPPORTED, "message names codec " + Format.quote(h.spec())
                    + ", which this build does not read");
        }
        if (!reads(named)) {
            throw new CodecException(Reason.UNSUPPORTED, "message encoded with " + h.spec() + ", expected " + spec());
        }
        long largest = 0;
        for (Format.Entry e : h.entries()) {
            long fixed = payloadSize(e.numel(), e.shape());
            long max = maxPayloadSize(e.numel(), e.shape());
            if (fixed >= 0 ? e.payloadLength() != fixed : e.payloadLength() > max) {
                throw new CodecException(Reason.MALFORMED, "tensor " + e.name() + ": payload of " + e.payloadLength()
                        + " bytes, " + spec() + " of " + e.numel() + " values takes " + (fixed >= 0 ? "" : "at most ")
                        + (fixed >= 0 ? fixed : max));
            }
            largest = Math.max(largest, e.payloadLength());
        }
        try (Arena scratch = Arena.ofConfined()) {
            // Payloads in a heap array are staged in native memory, where the vector kernels run fast.
            MemorySegment stage = bytes.isNative() ? null : scratch.allocate(Math.max(1, largest), 64);
            for (Format.Entry e : h.entries()) {
                Tensor t = target.apply(e);
                MemorySegment payload = bytes.asSlice(e.offset(), e.payloadLength());
                if (stage != null) {
                    MemorySegment.copy(payload, 0, stage, 0, e.payloadLength());
                    payload = stage.asSlice(0, e.payloadLength());
                }
                try {
                    decodeInto(payload, e.numel(), e.shape(), t.data());
                } catch (CodecException x) {
                    throw x.within("tensor " + e.name() + ": ");
                }
            }
        }
    }

    /** Checks a decoded scale: finite and not negative. */
    static float checkScale(float s, String what) throws CodecException {
        if (!(s >= 0f) || s == Float.POSITIVE_INFINITY) {
            throw new CodecException(Reason.MALFORMED, what + " scale " + s + " is not a finite value >= 0");
        }
        return s;
    }
}
