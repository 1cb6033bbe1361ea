package com.example.moons;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Two interleaved half-moons, a user's own task: found by Tributary through
 * {@code META-INF/services/dev.tributary.train.Task}, so {@code tributary init|work|serve --task moons}
 * know it once this jar is on {@code TRIBUTARY_CLASSPATH}.
 */
public final class MoonsTask implements Task {
    public static final String NAME = "moons";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return "two half-moons from a CSV file, a 2-32-2 MLP in DJL (an example of your own task)";
    }

    @Override
    public TensorMap initialModel(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        TensorMap m = new TensorMap();
        for (int i = 0; i < MoonsNet.NAMES.size(); i++) {
            long[] shape = MoonsNet.SHAPES.get(i);
            double bound = 1 / Math.sqrt(shape.length == 2 ? shape[1] : (i == 1 ? 2 : 32));
            float[] v = new float[(int) dev.tributary.tensor.Shapes.numel(shape)];
            for (int k = 0; k < v.length; k++) {
                v[k] = (float) (rng.nextDouble(-bound, bound));
            }
            m.put(MoonsNet.NAMES.get(i), Tensor.ofFloats(shape, v));
        }
        return m;
    }

    @Override
    public LocalTrainer trainer(int worker, int workers, long seed) {
        return new MoonsTrainer(Moons.load().share(worker, workers));
    }

    @Override
    public TrainPlan defaultPlan(long seed) {
        return TrainPlan.steps(50, seed);
    }

    @Override
    public Map<String, Double> evaluate(TensorMap weights) {
        Moons all = Moons.load();
        try (MoonsTrainer t = new MoonsTrainer(all.share(0, 1))) {
            return t.evaluate(weights, all.slice(Moons.TRAIN, all.size()));
        }
    }
}
