package dev.tributary.train.djl;

import java.util.Objects;

/**
 * What a {@link DjlTrainer} trains and how.
 *
 * @param architecture the network
 * @param optimizer    the local optimizer
 * @param batchSize    examples per step, &gt; 0 (the last batch of an epoch may be smaller)
 * @param inputs       how pixels are standardized
 */
public record TrainerConfig(Architecture architecture, OptimizerConfig optimizer, int batchSize,
        Standardization inputs) {
    public TrainerConfig {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(optimizer, "optimizer");
        Objects.requireNonNull(inputs, "inputs");
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be > 0: " + batchSize);
        }
    }

    /** The reference setting for Fashion-MNIST: SGD lr 0.02, momentum 0.9, batch 32. */
    public static TrainerConfig fashion(Architecture architecture) {
        return new TrainerConfig(architecture, OptimizerConfig.sgd(0.02f, 0.9f), 32, Standardization.FASHION_MNIST);
    }
}
