package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Lossless deltas between two versions of a model, for pulls: the XOR of each tensor's bit patterns
 * with the base's (mostly zeros between nearby versions), byte-grouped and compressed with zstd
 * ({@link BytePlanes}). {@code decode(encode(next, base), base)} gives {@code next} back bit for bit, in
 * any dtype. The message uses the codec container with the magic {@code TRBX} and the spec
 * {@code xor:level=L}; it does not identify the base: the caller names the base version beside it and
 * checks the result against the published SHA-256.
 */
public final class VersionDelta {
    private VersionDelta() {}

    /** The zstd level used by {@link #encode(TensorSource, TensorSource)}. */
    public static final int DEFAULT_LEVEL = CodecSpec.DEFAULT_LEVEL;

    public static byte[] encode(TensorSource next, TensorSource base) {
        return encode(next, base, DEFAULT_LEVEL);
    }

    /**
     * The delta from {@code base} to {@code next}, which must have the same tensors (names, dtypes,
     * shapes, order); zstd {@code level} in [1, 19].
     *
     * @throws IllegalArgumentException naming the first tensor whose layout differs, or for a bad level
     */
    public static byte[] encode(TensorSource next, TensorSource base, int level) {
        if (level < 1 || level > CodecSpec.MAX_LEVEL) {
            throw new IllegalArgumentException("level=" + level + " must be an integer in [1, " + CodecSpec.MAX_LEVEL + "]");
        }
        List<TensorInfo> layout = next.infos();
        List<TensorInfo> baseLayout = base.infos();
        if (!layout.equals(baseLayout)) {
            throw new IllegalArgumentException("version delta needs the same tensors in both versions: "
                    + firstDifference(layout, baseLayout));
        }
        List<Format.Entry> entries = new ArrayList<>(layout.size());
        List<byte[]> payloads = new ArrayList<>(layout.size());
        long total = 0;
        for (TensorInfo info : layout) {
            Tensor t = next.tensor(info.name());
            requireWholeBytes(info);
            byte[] p = BytePlanes.encode(t.data(), base.tensor(info.name()).data(), t.numel(), width(info), level);
            payloads.add(p);
            entries.add(new Format.Entry(info.name(), info.dtype(), info.shape(), p.length, -1));
            total = Math.addExact(total, p.length);
        }
        byte[] header = Format.header(Format.DELTA_MAGIC, "xor:level=" + level, entries);
        byte[] out = new byte[Format.messageSize(header, total)];
        System.arraycopy(header, 0, out, 0, header.length);
        int off = header.length;
        for (byte[] p : payloads) {
            System.arraycopy(p, 0, out, off, p.length);
            off += p.length;
        }
        Format.seal(out);
        return out;
    }

    /**
     * Applies a delta to {@code base}: the next version, tensors allocated in {@code arena}, in the
     * base's layout. Refuses (with {@link CodecException}) bytes that are not a well-formed delta for
     * exactly this layout within {@code limits} (its decoded bytes count each tensor's own dtype).
     */
    public static TensorMap decode(MemorySegment bytes, TensorSource base, DecodeLimits limits, Arena arena)
            throws CodecException {
        List<TensorInfo> layout = base.infos();
        Format.Header h = Format.read(Format.DELTA_MAGIC, bytes, layout, limits, null);
        if (!h.spec().startsWith("xor:level=")) {
            throw new CodecException(Reason.UNSUPPORTED, "version delta of kind " + Format.quote(h.spec())
                    + " (this build reads xor:level=L)");
        }
        for (Format.Entry e : h.entries()) {
            if (e.dtype().bits() % 8 != 0) {
                throw new CodecException(Reason.UNSUPPORTED, "tensor " + e.name() + ": dtype " + e.dtype()
                        + " is not whole bytes per element");
            }
            long max = BytePlanes.maxSize(e.numel(), width(e.info()));
            if (e.payloadLength() > max) {
                throw new CodecException(Reason.MALFORMED, "tensor " + e.name() + ": payload of " + e.payloadLength()
                        + " bytes > " + max + " for " + e.numel() + " values");
            }
        }
        TensorMap out = new TensorMap();
        for (Format.Entry e : h.entries()) {
            Tensor t = Tensor.allocate(e.dtype(), e.shape(), arena);
            try {
                BytePlanes.decode(bytes.asSlice(e.offset(), e.payloadLength()), base.tensor(e.name()).data(),
                        e.numel(), width(e.info()), t.data());
            } catch (CodecException x) {
                throw x.within("tensor " + e.name() + ": ");
            }
            out.put(e.name(), t);
        }
        return out;
    }

    /** {@link #decode(MemorySegment, TensorSource, DecodeLimits, Arena)} into automatically managed memory. */
    public static TensorMap decode(byte[] bytes, TensorSource base, DecodeLimits limits) throws CodecException {
        return decode(MemorySegment.ofArray(bytes), base, limits, Arena.ofAuto());
    }

    private static int width(TensorInfo info) {
        return info.dtype().bits() / 8;
    }

    private static void requireWholeBytes(TensorInfo info) {
        if (info.dtype().bits() % 8 != 0) {
            throw new IllegalArgumentException("tensor " + info.name() + ": dtype " + info.dtype()
                    + " is not whole bytes per element");
        }
    }

    private static String firstDifference(List<TensorInfo> a, List<TensorInfo> b) {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            TensorInfo x = a.get(i);
            TensorInfo y = b.get(i);
            if (!x.equals(y)) {
                return "tensor #" + i + " is " + x.name() + " " + x.dtype() + " " + Shapes.toString(x.shape())
                        + " in the new version, " + y.name() + " " + y.dtype() + " " + Shapes.toString(y.shape())
                        + " in the base";
            }
        }
        return a.size() + " tensors in the new version, " + b.size() + " in the base";
    }
}
