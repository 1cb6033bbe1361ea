package dev.tributary.train.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxTest {
    @TempDir
    Path dir;

    /** An IDX file: magic, the dimensions, then {@code data}. */
    static byte[] idx(int magic, int[] dims, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeInt(magic);
        for (int d : dims) {
            out.writeInt(d);
        }
        out.write(data);
        return bytes.toByteArray();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(bytes)) {
            out.write(raw);
        }
        return bytes.toByteArray();
    }

    private Path write(String name, byte[] content) throws IOException {
        return Files.write(dir.resolve(name), content);
    }

    private static byte[] counting(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7);
        }
        return b;
    }

    @Test
    void readsPlainAndGzipFiles() throws IOException {
        byte[] pixels = counting(3 * 2 * 4);
        byte[] labels = {9, 0, (byte) 200};
        byte[] images = idx(Idx.IMAGES_MAGIC, new int[] {3, 2, 4}, pixels);
        byte[] labelFile = idx(Idx.LABELS_MAGIC, new int[] {3}, labels);
        for (boolean gz : new boolean[] {false, true}) {
            Path im = write("im" + gz, gz ? gzip(images) : images);
            Path lb = write("lb" + gz, gz ? gzip(labelFile) : labelFile);
            LabeledImages li = Idx.read(im, lb);
            assertEquals(3, li.size());
            assertEquals(2, li.rows());
            assertEquals(4, li.cols());
            assertArrayEquals(pixels, li.pixels());
            assertArrayEquals(new int[] {9, 0, 200}, li.labelArray());
        }
    }

    @Test
    void readsAnEmptySet() throws IOException {
        LabeledImages li = Idx.read(write("im", idx(Idx.IMAGES_MAGIC, new int[] {0, 28, 28}, new byte[0])),
                write("lb", idx(Idx.LABELS_MAGIC, new int[] {0}, new byte[0])));
        assertEquals(0, li.size());
        assertEquals(28, li.rows());
    }

    private String imagesError(byte[] content) throws IOException {
        Path im = write("bad-images", content);
        Path lb = write("labels", idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[2]));
        return assertThrows(IdxFormatException.class, () -> Idx.read(im, lb)).getMessage()
                .replace(dir.toString(), "DIR");
    }

    @Test
    void wrongMagicIsNamed() throws IOException {
        assertEquals("DIR/bad-images: magic 0x00000801 != 0x00000803 (unsigned-byte images, 3 dimensions)",
                imagesError(idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[2])));
        assertEquals("DIR/bad-images: magic 0x00000d03 != 0x00000803 (unsigned-byte images, 3 dimensions)",
                imagesError(idx(0x00000d03, new int[] {2, 1, 1}, new byte[8])));
    }

    @Test
    void sizeMustMatchTheDimensions() throws IOException {
        assertEquals("DIR/bad-images: truncated: dims [2, 3, 3] need 18 data bytes, found 17",
                imagesError(idx(Idx.IMAGES_MAGIC, new int[] {2, 3, 3}, new byte[17])));
        assertEquals("DIR/bad-images: trailing bytes after the 18 data bytes that dims [2, 3, 3] need",
                imagesError(idx(Idx.IMAGES_MAGIC, new int[] {2, 3, 3}, new byte[19])));
        assertEquals("DIR/bad-images: truncated: dims [2, 3, 3] need 18 data bytes, found 10",
                imagesError(gzip(idx(Idx.IMAGES_MAGIC, new int[] {2, 3, 3}, new byte[10]))));
    }

    @Test
    void headerMustBeComplete() throws IOException {
        assertEquals("DIR/bad-images: too short for an IDX header (needs 4 magic bytes)",
                imagesError(new byte[] {0, 0, 8}));
        assertEquals("DIR/bad-images: header ends before dimension 2 of 3",
                imagesError(Arrays.copyOf(idx(Idx.IMAGES_MAGIC, new int[] {2, 3, 3}, new byte[0]), 13)));
    }

    @Test
    void dimensionsMustBePositive() throws IOException {
        assertEquals("DIR/bad-images: dimension 1 is 0, must be > 0",
                imagesError(idx(Idx.IMAGES_MAGIC, new int[] {2, 0, 3}, new byte[0])));
        assertEquals("DIR/bad-images: dimension 0 is -1, must be >= 0",
                imagesError(idx(Idx.IMAGES_MAGIC, new int[] {-1, 3, 3}, new byte[0])));
        assertEquals("DIR/bad-images: dims [65536, 65536, 1] need more than 2^31 data bytes",
                imagesError(idx(Idx.IMAGES_MAGIC, new int[] {65536, 65536, 1}, new byte[0])));
    }

    @Test
    void corruptGzipIsNamed() throws IOException {
        byte[] gz = gzip(idx(Idx.IMAGES_MAGIC, new int[] {2, 3, 3}, counting(18)));
        assertEquals("DIR/bad-images: corrupt or truncated gzip stream (Unexpected end of ZLIB input stream)",
                imagesError(Arrays.copyOf(gz, gz.length - 12)));
    }

    @Test
    void countsMustAgree() throws IOException {
        Path im = write("im", idx(Idx.IMAGES_MAGIC, new int[] {3, 1, 1}, new byte[3]));
        Path lb = write("lb", idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[2]));
        assertEquals(lb + ": holds 2 labels but " + im + " holds 3 images",
                assertThrows(IdxFormatException.class, () -> Idx.read(im, lb)).getMessage());
    }

    @Test
    void missingFileIsNamed() {
        Path im = dir.resolve("nope");
        assertEquals(im + ": no such file",
                assertThrows(IdxFormatException.class, () -> Idx.read(im, im)).getMessage());
    }
}
