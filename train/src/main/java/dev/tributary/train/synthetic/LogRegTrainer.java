package dev.tributary.train.synthetic;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Minibatch SGD on the binary cross-entropy of a logistic regression, over one worker's data. */
final class LogRegTrainer implements LocalTrainer {
    private final SyntheticData data;
    private final float lr;
    private final int batch;

    LogRegTrainer(SyntheticData data, float lr, int batch) {
        this.data = data;
        this.lr = lr;
        this.batch = batch;
    }

    @Override
    public TrainResult train(TensorMap weights, TrainPlan plan) {
        Run run = new Run(weights, plan.seed(), InnerOptimizer.sgd(lr, 0, 0));
        int steps = plan.steps() > 0 ? plan.steps() : plan.epochs() * Math.max(1, data.size() / batch);
        TrainResult r = run.train(steps);
        float[] dw = run.w.clone();
        float[] w0 = read(weights, "linear.weight", SyntheticLogReg.FEATURES);
        for (int j = 0; j < dw.length; j++) {
            dw[j] -= w0[j];
        }
        TensorMap delta = new TensorMap()
                .put("linear.weight", Tensor.ofFloats(new long[] {1, SyntheticLogReg.FEATURES}, dw))
                .put("linear.bias", Tensor.ofFloats(new long[] {1}, run.b[0] - read(weights, "linear.bias", 1)[0]));
        return new TrainResult(delta, r.examples(), r.steps(), r.metrics());
    }

    /** A replica whose weights and optimizer state carry on across calls (DiLoCo's inner loop). */
    @Override
    public Replica open(TensorMap weights, InnerOptimizer optimizer, long seed) {
        return new Run(weights, seed, optimizer);
    }

    /** Weights, optimizer state and sampler of one run of minibatch steps. */
    private final class Run implements Replica {
        final float[] w;
        final float[] b;
        private final SplittableRandom r;
        private final ArrayOptimizer optimizer;
        private final float[] grad = new float[SyntheticLogReg.FEATURES + 1];

        Run(TensorMap weights, long seed, InnerOptimizer o) {
            this.w = read(weights, "linear.weight", SyntheticLogReg.FEATURES);
            this.b = read(weights, "linear.bias", 1);
            this.r = new SplittableRandom(seed);
            this.optimizer = new ArrayOptimizer(o, w.length + 1);
        }

        @Override
        public TrainResult train(int steps) {
            double lossSum = 0;
            float[] params = new float[w.length + 1];
            for (int s = 0; s < steps; s++) {
                Arrays.fill(grad, 0f);
                for (int k = 0; k < batch; k++) {
                    int i = r.nextInt(data.size());
                    double z = b[0] + dot(w, data.x()[i]);
                    double p = 1 / (1 + Math.exp(-z));
                    float err = (float) (p - data.y()[i]);
                    for (int j = 0; j < w.length; j++) {
                        grad[j] += err * data.x()[i][j];
                    }
                    grad[w.length] += err;
                    lossSum += bce(p, data.y()[i]);
                }
                System.arraycopy(w, 0, params, 0, w.length);
                params[w.length] = b[0];
                optimizer.step(params, grad, batch);
                System.arraycopy(params, 0, w, 0, w.length);
                b[0] = params[w.length];
            }
            Map<String, Double> metrics = new LinkedHashMap<>();
            metrics.put("loss", steps == 0 ? Double.NaN : lossSum / ((long) steps * batch));
            return new TrainResult(new TensorMap(), (long) steps * batch, steps, metrics);
        }

        @Override
        public TensorMap weights(List<String> names) {
            TensorMap out = new TensorMap();
            for (String n : names) {
                switch (n) {
                    case "linear.weight" -> out.put(n, Tensor.ofFloats(new long[] {1, SyntheticLogReg.FEATURES}, w.clone()));
                    case "linear.bias" -> out.put(n, Tensor.ofFloats(new long[] {1}, b[0]));
                    default -> throw new IllegalArgumentException("tensor " + n + ": not in synthetic-logreg");
                }
            }
            return out;
        }

        @Override
        public void assign(TensorMap tensors) {
            if (tensors.contains("linear.weight")) {
                System.arraycopy(read(tensors, "linear.weight", SyntheticLogReg.FEATURES), 0, w, 0, w.length);
            }
            if (tensors.contains("linear.bias")) {
                b[0] = read(tensors, "linear.bias", 1)[0];
            }
        }

        @Override
        public void close() {}
    }

    /** Loss and accuracy of {@code weights} on {@code data}. */
    static Map<String, Double> evaluate(TensorMap weights, SyntheticData data) {
        float[] w = read(weights, "linear.weight", SyntheticLogReg.FEATURES);
        float b = read(weights, "linear.bias", 1)[0];
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < data.size(); i++) {
            double p = 1 / (1 + Math.exp(-(b + dot(w, data.x()[i]))));
            loss += bce(p, data.y()[i]);
            correct += (p >= 0.5) == (data.y()[i] == 1f) ? 1 : 0;
        }
        return Map.of("loss", loss / data.size(), "accuracy", (double) correct / data.size());
    }

    private static float[] read(TensorMap weights, String name, int n) {
        if (!weights.contains(name)) {
            throw new IllegalArgumentException("tensor " + name + ": missing (synthetic-logreg needs linear.weight and linear.bias)");
        }
        Tensor t = weights.tensor(name);
        if (t.dtype() != DType.F32 || t.numel() != n) {
            throw new IllegalArgumentException("tensor " + name + ": " + t + " != F32 with " + n + " elements");
        }
        return t.toFloatArray();
    }

    private static double dot(float[] w, float[] x) {
        double s = 0;
        for (int j = 0; j < w.length; j++) {
            s += w[j] * x[j];
        }
        return s;
    }

    private static double bce(double p, float y) {
        double q = Math.min(Math.max(p, 1e-7), 1 - 1e-7);
        return y == 1f ? -Math.log(q) : -Math.log(1 - q);
    }
}
