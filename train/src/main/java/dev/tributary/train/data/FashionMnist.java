package dev.tributary.train.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The Fashion-MNIST data set: 60,000 training and 10,000 test images of 28×28 grey pixels in 10
 * classes, read from the four IDX files (plain or {@code .gz}) in one directory. Debian's
 * {@code dataset-fashion-mnist} package installs them under {@link #DEFAULT_DIR}.
 *
 * @param train the 60,000 training images
 * @param test  the 10,000 test images
 */
public record FashionMnist(LabeledImages train, LabeledImages test) {
    /** Where Debian's {@code dataset-fashion-mnist} puts the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    /** Number of classes. */
    public static final int CLASSES = 10;
    /** Image side in pixels. */
    public static final int SIDE = 28;
    /** Mean of the training pixels scaled to [0, 1]; inputs are standardized with it and {@link #STD}. */
    public static final float MEAN = 0.2860406f;
    /** Standard deviation of the training pixels scaled to [0, 1]. */
    public static final float STD = 0.3530242f;

    public FashionMnist {
        check(train, "train");
        check(test, "test");
    }

    /** Loads the data set from {@link #DEFAULT_DIR}. */
    public static FashionMnist load() throws IOException {
        return load(DEFAULT_DIR);
    }

    /** Loads the data set from {@code dir}; the error for a missing file says how to get it. */
    public static FashionMnist load(Path dir) throws IOException {
        LabeledImages train = Idx.read(find(dir, "train-images-idx3-ubyte"), find(dir, "train-labels-idx1-ubyte"));
        LabeledImages test = Idx.read(find(dir, "t10k-images-idx3-ubyte"), find(dir, "t10k-labels-idx1-ubyte"));
        return new FashionMnist(train, test);
    }

    /** Whether {@code dir} holds the four files (plain or gzip). */
    public static boolean available(Path dir) {
        for (String base : new String[] {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
            if (!Files.isRegularFile(dir.resolve(base)) && !Files.isRegularFile(dir.resolve(base + ".gz"))) {
                return false;
            }
        }
        return true;
    }

    private static Path find(Path dir, String base) throws IOException {
        Path plain = dir.resolve(base);
        if (Files.isRegularFile(plain)) {
            return plain;
        }
        Path gz = dir.resolve(base + ".gz");
        if (Files.isRegularFile(gz)) {
            return gz;
        }
        throw new IOException("fashion-mnist: no " + base + " or " + base + ".gz in " + dir
                + " (install Debian's dataset-fashion-mnist or pass --data DIR)");
    }

    private static void check(LabeledImages images, String split) {
        if (images.rows() != SIDE || images.cols() != SIDE) {
            throw new IllegalArgumentException("fashion-mnist " + split + ": images are " + images.rows() + "x"
                    + images.cols() + ", expected " + SIDE + "x" + SIDE);
        }
        for (int i = 0; i < images.size(); i++) {
            if (images.label(i) >= CLASSES) {
                throw new IllegalArgumentException("fashion-mnist " + split + ": label " + images.label(i)
                        + " of image " + i + " is not below " + CLASSES);
            }
        }
    }
}
