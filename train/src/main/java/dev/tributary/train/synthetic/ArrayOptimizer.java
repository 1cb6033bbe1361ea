package dev.tributary.train.synthetic;

import dev.tributary.worker.InnerOptimizer;

/**
 * {@link InnerOptimizer} over one flat float array, as PyTorch computes it: SGD adds {@code wd·w} to the
 * gradient, then {@code buf = μ·buf + g} (the first buffer is g) and {@code w −= lr·buf}; AdamW decays
 * {@code w −= lr·wd·w} first, then takes Adam's bias-corrected step with ε added to √v̂.
 */
final class ArrayOptimizer {
    private final InnerOptimizer o;
    private final float[] first;
    private final float[] second;
    private long t;

    ArrayOptimizer(InnerOptimizer o, int size) {
        this.o = o;
        this.first = new float[size];
        this.second = o.isAdamW() ? new float[size] : null;
    }

    /** One step on {@code w} from the gradient {@code gradSum / count} ({@code gradSum} not modified). */
    void step(float[] w, float[] gradSum, int count) {
        t++;
        float lr = (float) o.lr();
        float wd = (float) o.weightDecay();
        if (!o.isAdamW()) {
            float mu = (float) o.momentum();
            if (mu == 0 && wd == 0) {
                for (int i = 0; i < w.length; i++) {
                    w[i] -= lr * gradSum[i] / count;
                }
                return;
            }
            for (int i = 0; i < w.length; i++) {
                float g = gradSum[i] / count + wd * w[i];
                first[i] = t == 1 ? g : mu * first[i] + g;
                w[i] -= lr * first[i];
            }
            return;
        }
        float b1 = (float) o.beta1();
        float b2 = (float) o.beta2();
        double bc1 = 1 - Math.pow(b1, t);
        double bc2 = 1 - Math.pow(b2, t);
        float stepSize = (float) (lr / bc1);
        float sqrtBc2 = (float) Math.sqrt(bc2);
        float eps = (float) o.eps();
        for (int i = 0; i < w.length; i++) {
            w[i] *= 1 - lr * wd;
            float g = gradSum[i] / count;
            first[i] = b1 * first[i] + (1 - b1) * g;
            second[i] = b2 * second[i] + (1 - b2) * g * g;
            float denom = (float) Math.sqrt(second[i]) / sqrtBc2 + eps;
            w[i] -= stepSize * first[i] / denom;
        }
    }
}
