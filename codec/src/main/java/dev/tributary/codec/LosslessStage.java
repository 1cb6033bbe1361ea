package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.Tensor;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A lossy codec followed by lossless compression of its payload ({@code int4+lossless},
 * {@code topk:fraction=0.01+int8+lossless}): the lossy codec's payload is cut into its
 * {@link TensorCodec.Section sections} (scales apart from codes, top-k indices apart from values), each
 * section is byte-grouped by its element width and compressed with zstd ({@link BytePlanes}); top-k's
 * ascending indices are sent as gaps {@code i[j] − i[j−1] − 1}, which are small and compress well.
 * Decoding gives back the lossy payload bit for bit and decodes it with the lossy codec, so the values
 * are exactly those of the lossy codec alone. The level only affects encoding.
 *
 * <pre>
 * payload: per section, in order, its planes as {@link BytePlanes} writes them (no lengths between
 *          sections: each section's element count follows from the layout)
 * </pre>
 */
final class LosslessStage extends TensorCodec {
    private final TensorCodec inner;
    private final int level;

    LosslessStage(TensorCodec inner, int level) {
        if (inner.isLossless() || inner.payloadSize(1, new long[] {1}) < 0) {
            throw new IllegalArgumentException("a lossless stage follows a lossy fixed-size codec, not " + inner.spec());
        }
        this.inner = inner;
        this.level = level;
    }

    @Override
    public String spec() {
        return inner.spec() + "+lossless:level=" + level;
    }

    @Override
    public boolean isLossless() {
        return false;
    }

    @Override
    boolean reads(TensorCodec other) {
        return other instanceof LosslessStage s && inner.reads(s.inner);
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return -1;
    }

    @Override
    long maxPayloadSize(long numel, long[] shape) {
        long max = 0;
        for (Section s : inner.sections(numel, shape)) {
            max = Math.addExact(max, BytePlanes.maxSize(s.bytes() / s.width(), s.width()));
        }
        return max;
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        throw new UnsupportedOperationException("lossless-stage payloads are variable-size");
    }

    @Override
    boolean checksFinitenessItself() {
        return inner.checksFinitenessItself();
    }

    @Override
    byte[] encodeVariable(MemorySegment src, long numel, long[] shape) {
        long size = inner.payloadSize(numel, shape);
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(Format.MAX_ARRAY_BYTES, size / 2 + 64));
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment payload = scratch.allocate(Math.max(1, size), 64).asSlice(0, size);
            inner.encodeInto(src, numel, shape, payload);
            long at = 0;
            for (Section s : inner.sections(numel, shape)) {
                MemorySegment part = payload.asSlice(at, s.bytes());
                if (s.ascending()) {
                    toGaps(part);
                }
                out.writeBytes(BytePlanes.encode(part, null, s.bytes() / s.width(), s.width(), level));
                at += s.bytes();
            }
        }
        return out.toByteArray();
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        // Bounded by the layout, which the header check held to the limits.
        long size = inner.payloadSize(numel, shape);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment lossy = scratch.allocate(Math.max(1, size), 64).asSlice(0, size);
            long at = 0;
            long pos = 0;
            int index = 0;
            for (Section s : inner.sections(numel, shape)) {
                MemorySegment part = lossy.asSlice(at, s.bytes());
                try {
                    pos += BytePlanes.decodePrefix(payload.asSlice(pos), null, s.bytes() / s.width(), s.width(), part);
                } catch (CodecException e) {
                    throw e.within("section " + index + ": ");
                }
                if (s.ascending()) {
                    fromGaps(part);
                }
                at += s.bytes();
                index++;
            }
            if (pos != payload.byteSize()) {
                throw new CodecException(Reason.MALFORMED, (payload.byteSize() - pos) + " bytes left after the last section");
            }
            inner.decodeInto(lossy, numel, shape, dst);
        }
    }

    /** Ascending u32 indices to gaps {@code i[j] − i[j−1] − 1} (the first index stays). */
    private static void toGaps(MemorySegment part) {
        long previous = -1;
        for (long off = 0; off < part.byteSize(); off += 4) {
            long i = part.get(Tensor.I32_LE, off) & 0xFFFF_FFFFL;
            part.set(Tensor.I32_LE, off, (int) (i - previous - 1));
            previous = i;
        }
    }

    /** Gaps back to indices; a sum past u32 is refused (the lossy decoder checks the range). */
    private static void fromGaps(MemorySegment part) throws CodecException {
        long previous = -1;
        for (long off = 0; off < part.byteSize(); off += 4) {
            long i = previous + 1 + (part.get(Tensor.I32_LE, off) & 0xFFFF_FFFFL);
            if (i > 0xFFFF_FFFFL) {
                throw new CodecException(Reason.MALFORMED, "index #" + off / 4 + " = " + i + " past 2^32 - 1");
            }
            part.set(Tensor.I32_LE, off, (int) i);
            previous = i;
        }
    }

    /** The codec this stage compresses. */
    TensorCodec inner() {
        return inner;
    }

    @Override
    List<Section> sections(long numel, long[] shape) {
        throw new UnsupportedOperationException("a lossless stage is last");
    }
}
