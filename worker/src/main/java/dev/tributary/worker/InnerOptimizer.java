package dev.tributary.worker;

/**
 * The optimizer a {@link Replica} keeps across rounds, with PyTorch's semantics: {@code adamw}
 * ({@code torch.optim.AdamW}: decoupled weight decay, bias-corrected moments, ε added to √v̂) or
 * {@code sgd} ({@code torch.optim.SGD}: L2 decay added to the gradient, then momentum).
 *
 * @param name        adamw or sgd
 * @param lr          learning rate, &gt; 0
 * @param weightDecay decay coefficient, ≥ 0
 * @param beta1       AdamW's β₁ in [0, 1)
 * @param beta2       AdamW's β₂ in [0, 1)
 * @param eps         AdamW's ε, &gt; 0
 * @param momentum    SGD's μ in [0, 1)
 */
public record InnerOptimizer(String name, double lr, double weightDecay, double beta1, double beta2, double eps,
        double momentum) {
    public InnerOptimizer {
        if (!"adamw".equals(name) && !"sgd".equals(name)) {
            throw new IllegalArgumentException("inner optimizer name \"" + name + "\": must be adamw or sgd");
        }
        if (!(lr > 0) || !Double.isFinite(lr)) {
            throw new IllegalArgumentException("inner optimizer lr must be finite and > 0: " + lr);
        }
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
            throw new IllegalArgumentException("inner optimizer weight decay must be finite and >= 0: " + weightDecay);
        }
        for (double v : new double[] {beta1, beta2, momentum}) {
            if (!(v >= 0 && v < 1)) {
                throw new IllegalArgumentException("inner optimizer beta1, beta2 and momentum must be in [0, 1): "
                        + beta1 + ", " + beta2 + ", " + momentum);
            }
        }
        if ("adamw".equals(name) && !(eps > 0)) {
            throw new IllegalArgumentException("inner optimizer eps must be > 0 for adamw: " + eps);
        }
    }

    /** DiLoCo's inner optimizer: AdamW lr 4e-4, weight decay 0.1, β (0.9, 0.95), ε 1e-8. */
    public static InnerOptimizer diloco() {
        return adamw(4e-4, 0.1, 0.9, 0.95);
    }

    public static InnerOptimizer adamw(double lr, double weightDecay, double beta1, double beta2) {
        return new InnerOptimizer("adamw", lr, weightDecay, beta1, beta2, 1e-8, 0);
    }

    public static InnerOptimizer sgd(double lr, double momentum, double weightDecay) {
        return new InnerOptimizer("sgd", lr, weightDecay, 0, 0, 0, momentum);
    }

    public boolean isAdamW() {
        return name.equals("adamw");
    }
}
