package dev.tributary.cli;

import dev.tributary.tensor.TensorMap;
import java.util.List;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.Replica;
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
        pause(start);
        return r;
    }

    /** A replica of the inner trainer whose training calls are slowed the same way (DiLoCo, NoLoCo). */
    @Override
    public Replica open(TensorMap weights, InnerOptimizer optimizer, long seed) {
        Replica r = inner.open(weights, optimizer, seed);
        return new Replica() {
            @Override
            public TrainResult train(int steps) {
                long start = System.nanoTime();
                TrainResult result = r.train(steps);
                pause(start);
                return result;
            }

            @Override
            public TensorMap weights(List<String> names) {
                return r.weights(names);
            }

            @Override
            public void assign(TensorMap tensors) {
                r.assign(tensors);
            }

            @Override
            public void close() {
                r.close();
            }
        };
    }

    private void pause(long start) {
        long extraNanos = (long) ((System.nanoTime() - start) * (factor - 1));
        try {
            Thread.sleep(extraNanos / 1_000_000, (int) (extraNanos % 1_000_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        inner.close();
    }
}
