package dev.tributary.train.djl;

import dev.tributary.train.data.FashionMnist;

/**
 * How pixels become model inputs: {@code x = (pixel / 255 − mean) / std}.
 *
 * @param mean mean of the pixels scaled to [0, 1]
 * @param std  their standard deviation, &gt; 0
 */
public record Standardization(float mean, float std) {
    /** The statistics of the Fashion-MNIST training images. */
    public static final Standardization FASHION_MNIST = new Standardization(FashionMnist.MEAN, FashionMnist.STD);

    public Standardization {
        if (!Float.isFinite(mean)) {
            throw new IllegalArgumentException("standardization mean is not finite: " + mean);
        }
        if (!(std > 0) || !Float.isFinite(std)) {
            throw new IllegalArgumentException("standardization std must be finite and > 0: " + std);
        }
    }
}
