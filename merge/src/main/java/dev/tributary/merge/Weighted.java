package dev.tributary.merge;

/**
 * A value with its weight in a merge: for aggregation the number of examples a worker trained on, for
 * merging checkpoints the {@code weight} parameter of a model.
 */
public record Weighted<T>(T value, double weight) {
    public Weighted {
        if (value == null) {
            throw new IllegalArgumentException("value is null");
        }
        if (!Double.isFinite(weight)) {
            throw new IllegalArgumentException("weight is not finite: " + weight);
        }
    }
}
