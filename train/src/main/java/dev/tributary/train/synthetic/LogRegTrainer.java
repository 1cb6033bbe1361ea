package dev.tributary.train.synthetic;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.util.Arrays;
import java.util.LinkedHashMap;
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
        float[] w = read(weights, "linear.weight", SyntheticLogReg.FEATURES);
        float[] b = read(weights, "linear.bias", 1);
        float[] w0 = w.clone();
        float b0 = b[0];
        int steps = plan.steps() > 0 ? plan.steps() : plan.epochs() * Math.max(1, data.size() / batch);
        SplittableRandom r = new SplittableRandom(plan.seed());
        double lossSum = 0;
        float[] grad = new float[w.length];
        for (int s = 0; s < steps; s++) {
            Arrays.fill(grad, 0f);
            float gb = 0;
            for (int k = 0; k < batch; k++) {
                int i = r.nextInt(data.size());
                double z = b[0] + dot(w, data.x()[i]);
                double p = 1 / (1 + Math.exp(-z));
                float err = (float) (p - data.y()[i]);
                for (int j = 0; j < w.length; j++) {
                    grad[j] += err * data.x()[i][j];
                }
                gb += err;
                lossSum += bce(p, data.y()[i]);
            }
            for (int j = 0; j < w.length; j++) {
                w[j] -= lr * grad[j] / batch;
            }
            b[0] -= lr * gb / batch;
        }
        float[] dw = new float[w.length];
        for (int j = 0; j < w.length; j++) {
            dw[j] = w[j] - w0[j];
        }
        TensorMap delta = new TensorMap()
                .put("linear.weight", Tensor.ofFloats(new long[] {1, SyntheticLogReg.FEATURES}, dw))
                .put("linear.bias", Tensor.ofFloats(new long[] {1}, b[0] - b0));
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("loss", lossSum / ((long) steps * batch));
        return new TrainResult(delta, (long) steps * batch, steps, metrics);
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
