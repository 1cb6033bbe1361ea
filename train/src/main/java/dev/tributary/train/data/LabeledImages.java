package dev.tributary.train.data;

import java.util.Objects;

/**
 * Grey-scale images with one class label each: {@code pixels} holds {@code size() × rows × cols}
 * unsigned bytes, row-major, image after image; {@code labels} one unsigned byte per image.
 *
 * <p>The arrays are shared, not copied: treat them as read-only.
 */
public record LabeledImages(int rows, int cols, byte[] pixels, byte[] labels) {
    public LabeledImages {
        Objects.requireNonNull(pixels, "pixels");
        Objects.requireNonNull(labels, "labels");
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("image size " + rows + "x" + cols + " must be positive");
        }
        if ((long) labels.length * rows * cols != pixels.length) {
            throw new IllegalArgumentException(labels.length + " labels need " + (long) labels.length * rows * cols
                    + " pixels of " + rows + "x" + cols + ", got " + pixels.length);
        }
    }

    /** Number of images. */
    public int size() {
        return labels.length;
    }

    /** Pixels per image. */
    public int imageSize() {
        return rows * cols;
    }

    /** The class label of image {@code i}, 0 to 255. */
    public int label(int i) {
        return Byte.toUnsignedInt(labels[i]);
    }

    /** All labels as ints, in image order. */
    public int[] labelArray() {
        int[] out = new int[labels.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = Byte.toUnsignedInt(labels[i]);
        }
        return out;
    }

    /** Number of classes: the largest label plus one (0 when empty). */
    public int classes() {
        int max = -1;
        for (byte b : labels) {
            max = Math.max(max, Byte.toUnsignedInt(b));
        }
        return max + 1;
    }

    /** A copy holding the images at {@code indices}, in that order. */
    public LabeledImages subset(int[] indices) {
        int n = imageSize();
        byte[] px = new byte[Math.multiplyExact(indices.length, n)];
        byte[] lb = new byte[indices.length];
        for (int k = 0; k < indices.length; k++) {
            int i = indices[k];
            if (i < 0 || i >= labels.length) {
                throw new IndexOutOfBoundsException("index " + i + " outside 0.." + (labels.length - 1));
            }
            System.arraycopy(pixels, i * n, px, k * n, n);
            lb[k] = labels[i];
        }
        return new LabeledImages(rows, cols, px, lb);
    }

    /** The first {@code count} images (a copy). */
    public LabeledImages head(int count) {
        if (count < 0 || count > size()) {
            throw new IllegalArgumentException("head " + count + " outside 0.." + size());
        }
        int[] idx = new int[count];
        for (int i = 0; i < count; i++) {
            idx[i] = i;
        }
        return subset(idx);
    }
}
