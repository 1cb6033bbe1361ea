package dev.tributary.train.synthetic;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Binary logistic regression on a seeded synthetic dataset, in pure Java: small enough for tests and
 * smoke runs of the whole system. A hidden "true" weight vector (fixed by {@link #DATA_SEED}) labels
 * points drawn from N(0, I) with logistic noise; each worker draws its own points, and a held-out set
 * measures the model. Model: {@code linear.weight} f32 [1, 16] and {@code linear.bias} f32 [1].
 */
public final class SyntheticLogReg implements Task {
    public static final String NAME = "synthetic-logreg";
    /** Input features. */
    public static final int FEATURES = 16;
    /** Fixes the true weights and the held-out set, so every worker learns the same function. */
    public static final long DATA_SEED = 20_240_601L;
    static final int EXAMPLES_PER_WORKER = 512;
    static final int HELD_OUT = 2_000;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "logistic regression, 16 features, seeded synthetic data (pure Java)";
    }

    @Override
    public TensorMap initialModel(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] w = new float[FEATURES];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) ((r.nextDouble() * 2 - 1) * 0.01);
        }
        return new TensorMap()
                .put("linear.weight", Tensor.ofFloats(new long[] {1, FEATURES}, w))
                .put("linear.bias", Tensor.ofFloats(new long[] {1}, 0f));
    }

    @Override
    public LocalTrainer trainer(int worker, int workers, long seed) {
        if (workers < 1 || worker < 0 || worker >= workers) {
            throw new IllegalArgumentException("worker " + worker + " of " + workers + ": needs 0 <= worker < workers");
        }
        long dataSeed = DATA_SEED ^ (0x9E3779B97F4A7C15L * (worker + 1)) ^ seed;
        return new LogRegTrainer(SyntheticData.generate(dataSeed, EXAMPLES_PER_WORKER), 0.1f, 32);
    }

    @Override
    public TrainPlan defaultPlan(long seed) {
        return TrainPlan.steps(20, seed);
    }

    @Override
    public Map<String, Double> evaluate(TensorMap weights) {
        SyntheticData test = SyntheticData.generate(DATA_SEED + 1, HELD_OUT);
        return LogRegTrainer.evaluate(weights, test);
    }
}
