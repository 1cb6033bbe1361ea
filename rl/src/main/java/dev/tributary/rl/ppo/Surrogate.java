package dev.tributary.rl.ppo;

import ai.djl.ndarray.NDArray;
import dev.tributary.rl.policy.Evaluation;

/**
 * The PPO loss on tensors, CleanRL's formulation with the truncated importance weight of {@link PpoLoss}:
 * {@code total = policy − entropyCoef·entropy + valueCoef·value}, where
 * <ul>
 *   <li>policy = mean(w · max(−A·r, −A·clip(r, 1 − ε, 1 + ε))), r = exp(log π − log π_old);</li>
 *   <li>value = ½ mean((V − R)²), or with value clipping ½ mean(max((V − R)², (V_old + clip(V − V_old, −ε, ε) − R)²));</li>
 *   <li>entropy = mean(H(π)).</li>
 * </ul>
 * Scalars enter as floats (PyTorch promotes 0-dimensional results to double otherwise).
 */
final class Surrogate {
    private Surrogate() {}

    /** The loss terms; {@code ratio} and {@code logRatio} are kept for diagnostics. */
    record Terms(NDArray total, NDArray policy, NDArray value, NDArray entropy, NDArray ratio, NDArray logRatio) {}

    static Terms compute(Evaluation e, NDArray oldLogProbs, NDArray weights, NDArray advantages, NDArray returns,
                         NDArray oldValues, PpoConfig c) {
        float clip = (float) c.clip();
        NDArray logRatio = e.logProbs().sub(oldLogProbs);
        NDArray ratio = logRatio.exp();
        NDArray unclipped = advantages.neg().mul(ratio);
        NDArray clipped = advantages.neg().mul(ratio.clip(1 - clip, 1 + clip));
        NDArray policy = weights.mul(unclipped.maximum(clipped)).mean();
        NDArray error = e.values().sub(returns).square();
        if (c.clipValueLoss()) {
            NDArray bounded = oldValues.add(e.values().sub(oldValues).clip(-clip, clip));
            error = error.maximum(bounded.sub(returns).square());
        }
        NDArray value = error.mean().mul(0.5f);
        NDArray entropy = e.entropy().mean();
        NDArray total = policy.sub(entropy.mul((float) c.entropyCoef())).add(value.mul((float) c.valueCoef()));
        return new Terms(total, policy, value, entropy, ratio, logRatio);
    }
}
