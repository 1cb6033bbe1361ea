package dev.tributary.train.djl;

/**
 * A model's quality on a labelled set.
 *
 * @param accuracy fraction of examples whose highest logit is the true class
 * @param loss     mean cross-entropy
 * @param examples number of examples evaluated
 */
public record Evaluation(double accuracy, double loss, long examples) {}
