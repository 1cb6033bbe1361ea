package com.example.moons;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The {@link LocalTrainer} SPI for the user's model: weights in, some SGD steps on this worker's rows,
 * the delta {@code trained − given} out. Tributary does the rest (pulls, pushes, retries, aggregation).
 */
final class MoonsTrainer implements LocalTrainer {
    static final int BATCH = 32;

    private final Moons data;
    private final MoonsNet net = new MoonsNet(0.2f);

    MoonsTrainer(Moons data) {
        this.data = data;
    }

    @Override
    public TrainResult train(TensorMap weights, TrainPlan plan) {
        net.load(weights);
        int steps = plan.steps() > 0 ? plan.steps() : plan.epochs() * Math.ceilDiv(data.size(), BATCH);
        SplittableRandom rng = new SplittableRandom(plan.seed());
        double lossSum = 0;
        long examples = 0;
        NDManager m = net.manager();
        for (int s = 0; s < steps; s++) {
            float[][] xs = new float[BATCH][];
            float[] ys = new float[BATCH];
            for (int b = 0; b < BATCH; b++) {
                int i = rng.nextInt(data.size());
                xs[b] = data.features()[i];
                ys[b] = data.labels()[i];
            }
            try (NDManager batch = m.newSubManager()) {
                NDArray x = batch.create(xs);
                NDArray y = batch.create(ys);
                lossSum += net.step(x, y);
            }
            examples += BATCH;
        }
        TensorMap trained = net.weights();
        TensorMap delta = new TensorMap();
        for (String n : MoonsNet.NAMES) {
            Tensor a = trained.tensor(n);
            Tensor w = weights.tensor(n);
            float[] d = new float[(int) a.numel()];
            for (int k = 0; k < d.length; k++) {
                d[k] = a.getFloat(k) - w.getFloat(k);
            }
            delta.put(n, Tensor.ofFloats(a.shape(), d));
        }
        return new TrainResult(delta, examples, steps, Map.of("loss", steps == 0 ? Double.NaN : lossSum / steps));
    }

    /** Loss and accuracy of {@code weights} on {@code eval}. */
    Map<String, Double> evaluate(TensorMap weights, Moons eval) {
        net.load(weights);
        try (NDManager batch = net.manager().newSubManager()) {
            NDArray logits = net.logits(batch.create(eval.features()));
            NDArray labels = batch.create(eval.labels());
            long correct = logits.argMax(1).toType(ai.djl.ndarray.types.DataType.INT32, false)
                    .eq(labels.toType(ai.djl.ndarray.types.DataType.INT32, false)).sum().getLong();
            NDArray logp = logits.logSoftmax(1);
            double loss = -logp.gather(labels.toType(ai.djl.ndarray.types.DataType.INT64, false).reshape(-1, 1), 1)
                    .mean().getFloat();
            return Map.of("accuracy", correct / (double) eval.size(), "loss", loss);
        }
    }

    @Override
    public void close() {
        net.close();
    }
}
