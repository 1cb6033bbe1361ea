package dev.tributary.cli;

import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;

/**
 * A trainer that behaves like a device {@code factor} times slower: after each call it waits
 * {@code (factor − 1)} times as long as the training took. Used to run heterogeneous workers on one machine.
 */
final class SlowedTrainer implements LocalTrainer {
    private final LocalTrainer inner;
    private final double factor;

    private SlowedTrainer(LocalTrainer inner, double factor) {
        this.inner = inner;
        this.factor = factor;
    }

    /** {@code inner} itself when {@code factor} is 1. */
    static LocalTrainer wrap(LocalTrainer inner, double factor) {
        if (!(factor >= 1)) {
            throw new IllegalArgumentException("slowdown factor must be >= 1: " + factor);
        }
        return factor == 1 ? inner : new SlowedTrainer(inner, factor);
    }

    @Override
    public TrainResult train(TensorMap weights, TrainPlan plan) {
        long start = System.nanoTime();
        TrainResult r = inner.train(weights, plan);
        long extraNanos = (long) ((System.nanoTime() - start) * (factor - 1));
        try {
            Thread.sleep(extraNanos / 1_000_000, (int) (extraNanos % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return r;
    }

    @Override
    public void close() {
        inner.close();
    }
}
