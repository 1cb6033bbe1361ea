package dev.tributary.train.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTest {
    @TempDir
    Path dir;

    @Test
    void loadsTheInstalledDataSet() throws IOException {
        Assumptions.assumeTrue(FashionMnist.available(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST not found in " + FashionMnist.DEFAULT_DIR + " (Debian package dataset-fashion-mnist)");
        FashionMnist d = FashionMnist.load();
        assertEquals(60_000, d.train().size());
        assertEquals(10_000, d.test().size());
        assertEquals(10, d.train().classes());
        int[] perClass = new int[10];
        long pixelSum = 0;
        for (int i = 0; i < d.train().size(); i++) {
            perClass[d.train().label(i)]++;
        }
        for (byte p : d.train().pixels()) {
            pixelSum += Byte.toUnsignedInt(p);
        }
        for (int c : perClass) {
            assertEquals(6000, c);
        }
        double mean = pixelSum / 255.0 / d.train().pixels().length;
        assertEquals(FashionMnist.MEAN, mean, 1e-6);
    }

    @Test
    void missingFilesSayHowToGetThem() {
        assertFalse(FashionMnist.available(dir));
        IOException e = assertThrows(IOException.class, () -> FashionMnist.load(dir));
        assertEquals("fashion-mnist: no train-images-idx3-ubyte or train-images-idx3-ubyte.gz in " + dir
                + " (install Debian's dataset-fashion-mnist or pass --data DIR)", e.getMessage());
    }

    @Test
    void readsPlainFilesFromAnotherDirectoryAndChecksLabels() throws IOException {
        writeSplit("train", 28, 3, new byte[] {1, 2, 3});
        writeSplit("t10k", 28, 2, new byte[] {0, 9});
        assertTrue(FashionMnist.available(dir));
        FashionMnist d = FashionMnist.load(dir);
        assertEquals(3, d.train().size());
        assertEquals(9, d.test().label(1));

        writeSplit("t10k", 28, 2, new byte[] {0, 10});
        assertEquals("fashion-mnist test: label 10 of image 1 is not below 10",
                assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir)).getMessage());
        writeSplit("t10k", 16, 2, new byte[] {0, 1});
        assertEquals("fashion-mnist test: images are 16x16, expected 28x28",
                assertThrows(IllegalArgumentException.class, () -> FashionMnist.load(dir)).getMessage());
    }

    private void writeSplit(String prefix, int side, int n, byte[] labels) throws IOException {
        Files.write(dir.resolve(prefix + "-images-idx3-ubyte"),
                IdxTest.idx(Idx.IMAGES_MAGIC, new int[] {n, side, side}, new byte[n * side * side]));
        Files.write(dir.resolve(prefix + "-labels-idx1-ubyte"), IdxTest.idx(Idx.LABELS_MAGIC, new int[] {n}, labels));
    }
}
