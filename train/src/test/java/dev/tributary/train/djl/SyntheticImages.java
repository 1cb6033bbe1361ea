package dev.tributary.train.djl;

import dev.tributary.train.data.LabeledImages;
import java.util.SplittableRandom;

/** Small learnable image sets for tests: class k lights up the k-th band of rows over random noise. */
final class SyntheticImages {
    private SyntheticImages() {}

    static LabeledImages bands(int count, int side, int classes, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        byte[] pixels = new byte[count * side * side];
        byte[] labels = new byte[count];
        int band = Math.max(1, side / classes);
        for (int i = 0; i < count; i++) {
            int k = rng.nextInt(classes);
            labels[i] = (byte) k;
            for (int r = 0; r < side; r++) {
                boolean lit = r / band == k;
                for (int c = 0; c < side; c++) {
                    int noise = rng.nextInt(64);
                    pixels[(i * side + r) * side + c] = (byte) (lit ? 160 + noise : noise);
                }
            }
        }
        return new LabeledImages(side, side, pixels, labels);
    }
}
