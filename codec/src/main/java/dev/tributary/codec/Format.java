package dev.tributary.codec;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The container every encoded message shares (all integers little-endian):
 *
 * <pre>
 * magic      4 bytes   "TRBC" (codec messages) or "TRBX" (version deltas)
 * version    u8        1
 * spec       u8 length + ASCII, the canonical codec spec, e.g. "int4:group=64"
 * count      u32       number of tensors
 * per tensor u16 length + UTF-8 name, u8 length + ASCII dtype (safetensors spelling),
 *            u8 rank, rank × u64 dimensions, u64 payload length
 * payloads   the tensors' payloads, in the same order, back to back
 * crc        u32       CRC32C of every byte before it
 * </pre>
 *
 * The whole header comes first so that a reader checks every declared size and name against its limits
 * and the expected layout before it touches or allocates for any payload.
 */
final class Format {
    private Format() {}

    static final byte[] CODEC_MAGIC = {'T', 'R', 'B', 'C'};
    static final byte[] DELTA_MAGIC = {'T', 'R', 'B', 'X'};
    static final int VERSION = 1;
    static final int MAX_SPEC_BYTES = 0xFF;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Magic, version, spec length, count, crc. */
    static final int MIN_MESSAGE_BYTES = 4 + 1 + 1 + 4 + 4;
    /** Largest message one byte array holds. */
    static final long MAX_ARRAY_BYTES = Integer.MAX_VALUE - 16;
    /** Bytes checksummed per call: a byte buffer view holds at most 2^31 - 1. */
    private static final long CRC_SLICE = 1L << 30;

    /** One tensor's header entry; {@code offset} is where its payload starts in the message. */
    record Entry(String name, DType dtype, long[] shape, long payloadLength, long offset) {
        long numel() {
            return Shapes.numel(shape);
        }

        TensorInfo info() {
            return new TensorInfo(name, dtype, shape);
        }
    }

    /** A parsed and checked header. */
    record Header(String spec, List<Entry> entries) {}

    static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    /** The header bytes for {@code entries} (their offsets are ignored). */
    static byte[] header(byte[] magic, String spec, List<Entry> entries) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(64 + 48 * entries.size());
        b.writeBytes(magic);
        b.write(VERSION);
        byte[] s = spec.getBytes(StandardCharsets.US_ASCII);
        if (s.length > MAX_SPEC_BYTES) {
            throw new IllegalArgumentException("codec spec longer than " + MAX_SPEC_BYTES + " bytes: " + spec);
        }
        b.write(s.length);
        b.writeBytes(s);
        b.writeBytes(le(4, entries.size()));
        for (Entry e : entries) {
            byte[] n = e.name().getBytes(StandardCharsets.UTF_8);
            if (n.length > DecodeLimits.FORMAT_MAX_NAME_BYTES) {
                throw new IllegalArgumentException("tensor name longer than " + DecodeLimits.FORMAT_MAX_NAME_BYTES
                        + " bytes: " + e.name().substring(0, 40) + "…");
            }
            if (e.shape().length > DecodeLimits.FORMAT_MAX_RANK) {
                throw new IllegalArgumentException("tensor " + e.name() + ": rank " + e.shape().length + " > "
                        + DecodeLimits.FORMAT_MAX_RANK);
            }
            b.writeBytes(le(2, n.length));
            b.writeBytes(n);
            byte[] d = e.dtype().safetensorsName().getBytes(StandardCharsets.US_ASCII);
            b.write(d.length);
            b.writeBytes(d);
            b.write(e.shape().length);
            for (long dim : e.shape()) {
                b.writeBytes(le(8, dim));
            }
            b.writeBytes(le(8, e.payloadLength()));
        }
        return b.toByteArray();
    }

    private static byte[] le(int width, long v) {
        byte[] out = new byte[width];
        for (int i = 0; i < width; i++) {
            out[i] = (byte) (v >>> (8 * i));
        }
        return out;
    }

    /** Writes the CRC32C of {@code out[0, length - 4)} into its last four bytes. */
    static void seal(byte[] out) {
        CRC32C crc = new CRC32C();
        crc.update(out, 0, out.length - 4);
        MemorySegment.ofArray(out).set(U32, out.length - 4, (int) crc.getValue());
    }

    /** Size of a message with this header and payloads; refuses sizes past one byte array. */
    static int messageSize(byte[] header, long payloads) {
        long total = header.length + payloads + 4;
        if (payloads < 0 || total > MAX_ARRAY_BYTES) {
            throw new IllegalArgumentException("encoded message of " + total + " bytes exceeds the "
                    + MAX_ARRAY_BYTES + "-byte limit of one message; send fewer tensors at a time");
        }
        return (int) total;
    }

    /** The spec a message names, after checking only its magic and version (not its checksum). */
    static String peekSpec(byte[] magic, MemorySegment bytes) throws CodecException {
        Reader r = new Reader(bytes, bytes.byteSize());
        checkMagicAndVersion(r, magic);
        return readSpec(r);
    }

    /**
     * Parses and checks a header: size against the limits, magic, version, checksum, then every entry
     * against the limits and {@code layout} (names and shapes in order; dtypes too when
     * {@code requiredDtype} is null, else every entry must be {@code requiredDtype}), and that the
     * payloads exactly fill the message. A null {@code layout} takes the message's own, within the limits.
     */
    static Header read(byte[] magic, MemorySegment bytes, List<TensorInfo> layout, DecodeLimits limits,
                       DType requiredDtype) throws CodecException {
        long size = bytes.byteSize();
        if (size > limits.maxEncodedBytes()) {
            throw new CodecException(Reason.TOO_LARGE, "message of " + size + " bytes > limit " + limits.maxEncodedBytes());
        }
        if (layout != null) {
            checkLayoutWithinLimits(layout, limits, requiredDtype);
        }
        if (size < MIN_MESSAGE_BYTES) {
            throw new CodecException(Reason.MALFORMED, "message of " + size + " bytes is shorter than the "
                    + MIN_MESSAGE_BYTES + "-byte minimum");
        }
        Reader r = new Reader(bytes, size - 4);
        checkMagicAndVersion(r, magic);
        CRC32C crc = new CRC32C();
        for (long off = 0; off < size - 4; off += CRC_SLICE) {
            crc.update(bytes.asSlice(off, Math.min(CRC_SLICE, size - 4 - off)).asByteBuffer());
        }
        int stored = bytes.get(U32, size - 4);
        if ((int) crc.getValue() != stored) {
            throw new CodecException(Reason.CORRUPT, "checksum mismatch: computed " + Integer.toHexString((int) crc.getValue())
                    + ", stored " + Integer.toHexString(stored));
        }
        String spec = readSpec(r);
        long count = r.u32("tensor count");
        if (count > limits.maxTensors()) {
            throw new CodecException(Reason.TOO_LARGE, count + " tensors > limit " + limits.maxTensors());
        }
        if (layout != null && count != layout.size()) {
            throw new CodecException(Reason.LAYOUT, count + " tensors, expected " + layout.size());
        }
        List<Entry> entries = new ArrayList<>((int) count);
        java.util.Set<String> names = new java.util.HashSet<>();
        long payloads = 0;
        long decoded = 0;
        for (int i = 0; i < count; i++) {
            TensorInfo want = layout == null ? null : layout.get(i);
            String what = "tensor #" + i;
            int nameLength = r.u16(what + " name length");
            if (nameLength > limits.maxNameBytes()) {
                throw new CodecException(Reason.TOO_LARGE, what + ": name of " + nameLength + " bytes > limit "
                        + limits.maxNameBytes());
            }
            String name = r.utf8(nameLength, what + " name");
            if (layout == null && !names.add(name)) {
                throw new CodecException(Reason.MALFORMED, what + ": name " + quote(name) + " given twice");
            }
            if (want != null && !name.equals(want.name())) {
                throw new CodecException(Reason.LAYOUT, what + " is " + quote(name) + ", expected " + quote(want.name()));
            }
            what = "tensor " + name;
            DType dtype = r.dtype(what);
            if (requiredDtype != null ? dtype != requiredDtype : want != null && dtype != want.dtype()) {
                throw new CodecException(Reason.LAYOUT, what + ": dtype " + dtype + ", expected "
                        + (requiredDtype != null ? requiredDtype : want.dtype()));
            }
            int rank = r.u8(what + " rank");
            if (rank > limits.maxRank()) {
                throw new CodecException(Reason.TOO_LARGE, what + ": rank " + rank + " > limit " + limits.maxRank());
            }
            long[] shape = new long[rank];
            for (int d = 0; d < rank; d++) {
                shape[d] = r.u64(what + " dimension " + d);
            }
            if (want != null && !Arrays.equals(shape, want.shape())) {
                throw new CodecException(Reason.LAYOUT, what + ": shape " + Shapes.toString(shape) + " != expected "
                        + Shapes.toString(want.shape()));
            }
            try {
                decoded = Math.addExact(decoded, decodedBytes(want != null ? want : new TensorInfo(name, dtype, shape), requiredDtype));
            } catch (ArithmeticException | IllegalArgumentException e) {
                decoded = Long.MAX_VALUE; // a dimension past 2^63 or a product past 2^63: refused below
            }
            if (decoded > limits.maxDecodedBytes()) {
                throw new CodecException(Reason.TOO_LARGE, "decoded size past " + decoded + " bytes > limit "
                        + limits.maxDecodedBytes());
            }
            long length = r.u64(what + " payload length");
            payloads += length;
            if (length > size || payloads > size) {
                throw new CodecException(Reason.MALFORMED, what + ": payload of " + length + " bytes past the message's "
                        + size);
            }
            entries.add(new Entry(name, dtype, shape, length, -1));
        }
        long start = r.position();
        if (start + payloads != size - 4) {
            throw new CodecException(Reason.MALFORMED, "payloads declare " + payloads + " bytes but the message holds "
                    + (size - 4 - start));
        }
        List<Entry> placed = new ArrayList<>(entries.size());
        for (Entry e : entries) {
            placed.add(new Entry(e.name(), e.dtype(), e.shape(), e.payloadLength(), start));
            start += e.payloadLength();
        }
        return new Header(spec, placed);
    }

    /** A layout that could never be decoded within the limits is refused up front, whatever the bytes. */
    private static void checkLayoutWithinLimits(List<TensorInfo> layout, DecodeLimits limits, DType requiredDtype) throws CodecException {
        if (layout.size() > limits.maxTensors()) {
            throw new CodecException(Reason.TOO_LARGE, "expected layout has " + layout.size() + " tensors > limit "
                    + limits.maxTensors());
        }
        long total = 0;
        for (TensorInfo t : layout) {
            try {
                total = Math.addExact(total, decodedBytes(t, requiredDtype));
            } catch (ArithmeticException e) {
                total = Long.MAX_VALUE;
            }
            if (total > limits.maxDecodedBytes()) {
                throw new CodecException(Reason.TOO_LARGE, "expected layout decodes to more than "
                        + limits.maxDecodedBytes() + " bytes (limit)");
            }
        }
    }

    /** Bytes a tensor of the layout decodes to: f32 for codecs, its own dtype for version deltas. */
    private static long decodedBytes(TensorInfo t, DType requiredDtype) {
        return requiredDtype != null ? Math.multiplyExact(t.numel(), (long) requiredDtype.byteSize(1)) : t.byteSize();
    }

    private static void checkMagicAndVersion(Reader r, byte[] magic) throws CodecException {
        if (r.limit < 5) {
            throw new CodecException(Reason.MALFORMED, "message of " + r.limit + " bytes is too short");
        }
        for (int i = 0; i < 4; i++) {
            if (r.seg.get(ValueLayout.JAVA_BYTE, i) != magic[i]) {
                throw new CodecException(Reason.MALFORMED, "not a " + new String(magic, StandardCharsets.US_ASCII)
                        + " message (bad magic)");
            }
        }
        r.pos = 4;
        int version = r.u8("format version");
        if (version != VERSION) {
            throw new CodecException(Reason.UNSUPPORTED, "format version " + version + " (this build reads " + VERSION + ")");
        }
    }

    private static String readSpec(Reader r) throws CodecException {
        int n = r.u8("spec length");
        String spec = r.ascii(n, "spec");
        return spec;
    }

    static String quote(String s) {
        return "\"" + (s.length() > 80 ? s.substring(0, 80) + "…" : s) + "\"";
    }

    /** Bounds-checked little-endian reads; running past {@code limit} is {@link Reason#MALFORMED}. */
    static final class Reader {
        private final MemorySegment seg;
        private final long limit;
        private long pos;

        Reader(MemorySegment seg, long limit) {
            this.seg = seg;
            this.limit = limit;
        }

        long position() {
            return pos;
        }

        private void need(long n, String what) throws CodecException {
            if (n > limit - pos) {
                throw new CodecException(Reason.MALFORMED, "truncated: " + what + " needs " + n + " bytes at offset "
                        + pos + ", " + (limit - pos) + " left");
            }
        }

        int u8(String what) throws CodecException {
            need(1, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        int u16(String what) throws CodecException {
            need(2, what);
            int v = seg.get(U16, pos) & 0xFFFF;
            pos += 2;
            return v;
        }

        long u32(String what) throws CodecException {
            need(4, what);
            long v = seg.get(U32, pos) & 0xFFFF_FFFFL;
            pos += 4;
            return v;
        }

        long u64(String what) throws CodecException {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            if (v < 0) {
                throw new CodecException(Reason.MALFORMED, what + " " + Long.toUnsignedString(v) + " is past 2^63");
            }
            return v;
        }

        String utf8(int n, String what) throws CodecException {
            byte[] b = bytes(n, what);
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                throw new CodecException(Reason.MALFORMED, what + " is not valid UTF-8");
            }
        }

        String ascii(int n, String what) throws CodecException {
            byte[] b = bytes(n, what);
            for (byte x : b) {
                if (x < 0x20 || x > 0x7E) {
                    throw new CodecException(Reason.MALFORMED, what + " holds a byte that is not printable ASCII");
                }
            }
            return new String(b, StandardCharsets.US_ASCII);
        }

        DType dtype(String what) throws CodecException {
            int n = u8(what + " dtype length");
            String s = ascii(n, what + " dtype");
            try {
                return DType.fromSafetensors(s);
            } catch (IllegalArgumentException e) {
                throw new CodecException(Reason.MALFORMED, what + ": unknown dtype " + quote(s));
            }
        }

        private byte[] bytes(int n, String what) throws CodecException {
            need(n, what);
            byte[] b = new byte[n];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, n);
            pos += n;
            return b;
        }
    }
}
