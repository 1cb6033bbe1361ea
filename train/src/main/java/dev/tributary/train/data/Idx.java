package dev.tributary.train.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reader of the IDX format of MNIST-style data sets, plain or gzip-compressed (detected from the first
 * bytes, not the file name).
 *
 * <p>An IDX file is a big-endian header — two zero bytes, a type byte ({@code 0x08} for unsigned bytes),
 * the number of dimensions, then each dimension as a 32-bit integer — followed by exactly the product of
 * the dimensions in data bytes. Images are {@code 0x00000803} (count, rows, cols), labels
 * {@code 0x00000801} (count). Every rule broken is reported as an {@link IdxFormatException} naming the
 * file and the rule.
 */
public final class Idx {
    /** Magic number of unsigned-byte, three-dimensional files (images). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic number of unsigned-byte, one-dimensional files (labels). */
    public static final int LABELS_MAGIC = 0x00000801;

    private static final int GZIP_MAGIC = 0x1f8b;

    private Idx() {}

    /** Reads an images file and a labels file and pairs them; their counts must agree. */
    public static LabeledImages read(Path images, Path labels) throws IOException {
        Contents im = readFile(images, IMAGES_MAGIC, "unsigned-byte images, 3 dimensions");
        Contents lb = readFile(labels, LABELS_MAGIC, "unsigned-byte labels, 1 dimension");
        if (im.dims[0] != lb.dims[0]) {
            throw new IdxFormatException(labels, "holds " + lb.dims[0] + " labels but " + images + " holds "
                    + im.dims[0] + " images");
        }
        return new LabeledImages(im.dims[1], im.dims[2], im.data, lb.data);
    }

    private record Contents(int[] dims, byte[] data) {}

    private static Contents readFile(Path file, int expectedMagic, String what) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IdxFormatException(file, "no such file");
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            boolean gzip = b0 >= 0 && b1 >= 0 && ((b0 << 8) | b1) == GZIP_MAGIC;
            InputStream in = gzip ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
            return parse(file, new DataInputStream(in), expectedMagic, what);
        } catch (ZipException | EOFException e) {
            throw new IdxFormatException(file, "corrupt or truncated gzip stream (" + e.getMessage() + ")");
        }
    }

    private static Contents parse(Path file, DataInputStream in, int expectedMagic, String what) throws IOException {
        int magic;
        try {
            magic = in.readInt();
        } catch (EOFException e) {
            throw new IdxFormatException(file, "too short for an IDX header (needs 4 magic bytes)");
        }
        if (magic != expectedMagic) {
            throw new IdxFormatException(file, String.format("magic 0x%08x != 0x%08x (%s)", magic, expectedMagic, what));
        }
        int rank = expectedMagic & 0xff;
        int[] dims = new int[rank];
        for (int d = 0; d < rank; d++) {
            try {
                dims[d] = in.readInt();
            } catch (EOFException e) {
                throw new IdxFormatException(file, "header ends before dimension " + d + " of " + rank);
            }
            if (dims[d] < 0 || (d > 0 && dims[d] == 0)) {
                throw new IdxFormatException(file, "dimension " + d + " is " + dims[d] + ", must be "
                        + (d == 0 ? ">= 0" : "> 0"));
            }
        }
        long expected = 1;
        for (int d : dims) {
            expected *= d;
            if (expected > Integer.MAX_VALUE - 8) {
                throw new IdxFormatException(file, "dims " + Arrays.toString(dims) + " need more than 2^31 data bytes");
            }
        }
        byte[] data = in.readNBytes((int) expected);
        if (data.length < expected) {
            throw new IdxFormatException(file, "truncated: dims " + Arrays.toString(dims) + " need " + expected
                    + " data bytes, found " + data.length);
        }
        if (in.read() != -1) {
            throw new IdxFormatException(file, "trailing bytes after the " + expected + " data bytes that dims "
                    + Arrays.toString(dims) + " need");
        }
        return new Contents(dims, data);
    }
}
