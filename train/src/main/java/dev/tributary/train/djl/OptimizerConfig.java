package dev.tributary.train.djl;

/**
 * The local optimizer of a {@link DjlTrainer}, with PyTorch's semantics. Its state (momentum, moments)
 * starts from zero at every call to {@code train}: each call starts from weights that came from elsewhere.
 */
public sealed interface OptimizerConfig permits OptimizerConfig.Sgd, OptimizerConfig.AdamW {

    /** The learning rate. */
    float lr();

    /** SGD, optionally with momentum {@code μ} and L2 weight decay, as {@code torch.optim.SGD}. */
    static Sgd sgd(float lr, float momentum) {
        return new Sgd(lr, momentum, 0f);
    }

    /** AdamW with PyTorch's defaults β = (0.9, 0.999), ε = 1e-8, weight decay 0.01. */
    static AdamW adamW(float lr) {
        return new AdamW(lr, 0.9f, 0.999f, 1e-8f, 0.01f);
    }

    /**
     * {@code buf = μ·buf + (g + wd·w); w −= lr·buf} (the first step's buffer is the gradient itself).
     *
     * @param lr          learning rate, &gt; 0
     * @param momentum    μ in [0, 1)
     * @param weightDecay L2 coefficient added to the gradient, ≥ 0
     */
    record Sgd(float lr, float momentum, float weightDecay) implements OptimizerConfig {
        public Sgd {
            positive("sgd lr", lr);
            unitInterval("sgd momentum", momentum);
            nonNegative("sgd weight decay", weightDecay);
        }
    }

    /**
     * AdamW (Loshchilov &amp; Hutter) as {@code torch.optim.AdamW}: {@code w −= lr·wd·w}, then Adam with
     * bias-corrected moments and {@code ε} added to {@code √v̂}.
     */
    record AdamW(float lr, float beta1, float beta2, float eps, float weightDecay) implements OptimizerConfig {
        public AdamW {
            positive("adamw lr", lr);
            unitInterval("adamw beta1", beta1);
            unitInterval("adamw beta2", beta2);
            positive("adamw eps", eps);
            nonNegative("adamw weight decay", weightDecay);
        }
    }

    private static void positive(String what, float v) {
        if (!(v > 0) || !Float.isFinite(v)) {
            throw new IllegalArgumentException(what + " must be finite and > 0: " + v);
        }
    }

    private static void nonNegative(String what, float v) {
        if (!(v >= 0) || !Float.isFinite(v)) {
            throw new IllegalArgumentException(what + " must be finite and >= 0: " + v);
        }
    }

    private static void unitInterval(String what, float v) {
        if (!(v >= 0 && v < 1)) {
            throw new IllegalArgumentException(what + " must be in [0, 1): " + v);
        }
    }
}
