package dev.tributary.codec;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import com.github.luben.zstd.ZstdDecompressCtx;
import com.github.luben.zstd.ZstdException;
import dev.tributary.codec.CodecException.Reason;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Byte-grouped compression of fixed-width elements (ZipNN): the elements go in chunks of
 * {@link #CHUNK}; in each chunk byte {@code p} of every element forms plane {@code p}, and each plane is
 * compressed apart with zstd (the exponent plane of floats compresses well, the low mantissa planes
 * barely). A plane that zstd does not shrink is stored raw. Optionally every element is first XORed
 * with the same element of a base, so that unchanged bits become zeros.
 *
 * <pre>
 * per chunk, per plane: u8 mode (0 raw, 1 zstd), then raw: chunk-length bytes;
 *                       zstd: u32 length, a zstd frame that declares the chunk length as its content size
 * </pre>
 *
 * Decoding decompresses each plane into a buffer of exactly the chunk's length, after checking the
 * frame's declared size against it: a frame cannot write more than the layout says.
 */
final class BytePlanes {
    private BytePlanes() {}

    /** Elements per chunk: bounds the scratch memory (width planes of 1 MiB) whatever the tensor size. */
    static final int CHUNK = 1 << 20;
    private static final int RAW = 0;
    private static final int ZSTD = 1;

    private static long chunks(long numel) {
        return (numel + CHUNK - 1) / CHUNK;
    }

    /** Largest well-formed payload: every plane raw. */
    static long maxSize(long numel, int width) {
        return width * (5 * chunks(numel) + numel);
    }

    /** Compresses {@code numel} elements of {@code width} bytes, XORed with {@code base} unless it is null. */
    static byte[] encode(MemorySegment src, MemorySegment base, long numel, int width, int level) {
        int scratch = (int) Math.min(CHUNK, numel);
        byte[] raw = new byte[scratch * width];
        byte[] baseRaw = base == null ? null : new byte[raw.length];
        byte[] plane = new byte[scratch];
        byte[] packed = new byte[(int) Zstd.compressBound(scratch)];
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(Format.MAX_ARRAY_BYTES, numel * width / 2 + 64));
        try (ZstdCompressCtx z = new ZstdCompressCtx()) {
            z.setLevel(level);
            z.setContentSize(true);
            for (long start = 0; start < numel; start += CHUNK) {
                int len = (int) Math.min(CHUNK, numel - start);
                int bytes = len * width;
                MemorySegment.copy(src, ValueLayout.JAVA_BYTE, start * width, raw, 0, bytes);
                if (base != null) {
                    MemorySegment.copy(base, ValueLayout.JAVA_BYTE, start * width, baseRaw, 0, bytes);
                    for (int i = 0; i < bytes; i++) {
                        raw[i] ^= baseRaw[i];
                    }
                }
                for (int p = 0; p < width; p++) {
                    split(raw, width, p, plane, len);
                    int n = z.compressByteArray(packed, 0, packed.length, plane, 0, len);
                    if (n < len) {
                        out.write(ZSTD);
                        out.write(n);
                        out.write(n >>> 8);
                        out.write(n >>> 16);
                        out.write(n >>> 24);
                        out.write(packed, 0, n);
                    } else {
                        out.write(RAW);
                        out.write(plane, 0, len);
                    }
                }
            }
        }
        return out.toByteArray();
    }

    private static void split(byte[] raw, int width, int p, byte[] plane, int len) {
        for (int i = 0, j = p; i < len; i++, j += width) {
            plane[i] = raw[j];
        }
    }

    /**
     * Decodes {@code numel} elements of {@code width} bytes from {@code payload} (which must be used up
     * exactly) into {@code dst}, XORing with {@code base} unless it is null.
     */
    static void decode(MemorySegment payload, MemorySegment base, long numel, int width, MemorySegment dst)
            throws CodecException {
        long used = decodePrefix(payload, base, numel, width, dst);
        if (used != payload.byteSize()) {
            throw new CodecException(Reason.MALFORMED, (payload.byteSize() - used) + " bytes left after the last plane");
        }
    }

    /**
     * Decodes {@code numel} elements from the start of {@code payload} like {@link #decode}, and returns
     * how many bytes they took: for payloads that hold several runs of planes back to back.
     */
    static long decodePrefix(MemorySegment payload, MemorySegment base, long numel, int width, MemorySegment dst)
            throws CodecException {
        int scratch = (int) Math.min(CHUNK, numel);
        byte[] raw = new byte[scratch * width];
        byte[] baseRaw = base == null ? null : new byte[raw.length];
        byte[] plane = new byte[scratch];
        byte[] packed = new byte[0];
        long pos = 0;
        long size = payload.byteSize();
        try (ZstdDecompressCtx z = new ZstdDecompressCtx()) {
            for (long start = 0; start < numel; start += CHUNK) {
                int len = (int) Math.min(CHUNK, numel - start);
                for (int p = 0; p < width; p++) {
                    String where = "chunk " + start / CHUNK + " plane " + p;
                    if (pos >= size) {
                        throw new CodecException(Reason.MALFORMED, "truncated before " + where);
                    }
                    int mode = payload.get(ValueLayout.JAVA_BYTE, pos++);
                    if (mode == RAW) {
                        need(len, pos, size, where);
                        MemorySegment.copy(payload, ValueLayout.JAVA_BYTE, pos, plane, 0, len);
                        pos += len;
                    } else if (mode == ZSTD) {
                        need(4, pos, size, where);
                        long n = payload.get(Format.U32, pos) & 0xFFFF_FFFFL;
                        pos += 4;
                        if (n >= len) {
                            throw new CodecException(Reason.MALFORMED, where + ": compressed to " + n
                                    + " bytes, not below its " + len + " raw bytes");
                        }
                        need(n, pos, size, where);
                        if (packed.length < n) {
                            packed = new byte[(int) Math.max(n, Math.min(len, 2L * packed.length))];
                        }
                        MemorySegment.copy(payload, ValueLayout.JAVA_BYTE, pos, packed, 0, (int) n);
                        pos += n;
                        inflate(z, packed, (int) n, plane, len, where);
                    } else {
                        throw new CodecException(Reason.MALFORMED, where + ": unknown mode " + mode);
                    }
                    join(plane, len, raw, width, p);
                }
                int bytes = len * width;
                if (base != null) {
                    MemorySegment.copy(base, ValueLayout.JAVA_BYTE, start * width, baseRaw, 0, bytes);
                    for (int i = 0; i < bytes; i++) {
                        raw[i] ^= baseRaw[i];
                    }
                }
                MemorySegment.copy(raw, 0, dst, ValueLayout.JAVA_BYTE, start * width, bytes);
            }
        }
        return pos;
    }

    private static void inflate(ZstdDecompressCtx z, byte[] packed, int n, byte[] plane, int len, String where)
            throws CodecException {
        if (n <= 0) {
            throw new CodecException(Reason.MALFORMED, where + ": empty zstd frame");
        }
        long declared;
        try {
            // zstd-jni reads the frame header without checking its length: a cut header must not escape as an error.
            declared = Zstd.getFrameContentSize(packed, 0, n);
        } catch (RuntimeException e) {
            throw new CodecException(Reason.MALFORMED, where + ": unreadable zstd frame header (" + n + " bytes)");
        }
        if (declared != len) {
            throw new CodecException(Reason.MALFORMED, where + ": zstd frame declares " + declared + " bytes, expected " + len);
        }
        int got;
        try {
            got = z.decompressByteArray(plane, 0, len, packed, 0, n);
        } catch (ZstdException e) {
            throw new CodecException(Reason.MALFORMED, where + ": zstd: " + e.getMessage());
        }
        if (got != len) {
            throw new CodecException(Reason.MALFORMED, where + ": decompressed to " + got + " bytes, expected " + len);
        }
    }

    private static void join(byte[] plane, int len, byte[] raw, int width, int p) {
        for (int i = 0, j = p; i < len; i++, j += width) {
            raw[j] = plane[i];
        }
    }

    private static void need(long n, long pos, long size, String where) throws CodecException {
        if (n > size - pos) {
            throw new CodecException(Reason.MALFORMED, "truncated in " + where + ": " + n + " bytes needed, "
                    + (size - pos) + " left");
        }
    }
}
