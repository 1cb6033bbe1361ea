package dev.tributary.rl.ppo;

/**
 * PPO's clipped surrogate objective (Schulman et al. 2017) with truncated importance sampling against a
 * stale behaviour policy, as a pure function, the reference for the tensor version in the trainer:
 * <pre>
 *   rₜ = π(aₜ|sₜ) / π_old(aₜ|sₜ)
 *   wₜ = min(π_old(aₜ|sₜ) / μ(aₜ|sₜ), ρ̄)          (a constant: no gradient flows through it)
 *   L  = mean over t of  −wₜ · min(rₜ Aₜ, clip(rₜ, 1 − ε, 1 + ε) Aₜ)
 * </pre>
 * π is the policy being optimized, π_old the learner's policy when this update began, μ the policy that
 * acted (older still when the actor lagged behind). With μ = π_old every weight is 1 and this is plain PPO.
 */
public final class PpoLoss {
    private PpoLoss() {}

    /** The truncated importance weights {@code min(exp(oldLogProbs − behaviourLogProbs), ρ̄)}. */
    public static double[] truncatedWeights(double[] oldLogProbs, double[] behaviourLogProbs, double rhoBar) {
        check("behaviourLogProbs", behaviourLogProbs, oldLogProbs.length);
        if (!(rhoBar > 0)) {
            throw new IllegalArgumentException("rhoBar must be > 0: " + rhoBar);
        }
        double[] w = new double[oldLogProbs.length];
        for (int t = 0; t < w.length; t++) {
            w[t] = Math.min(Math.exp(oldLogProbs[t] - behaviourLogProbs[t]), rhoBar);
        }
        return w;
    }

    /**
     * The mean clipped surrogate loss (to minimize).
     *
     * @param logProbs          {@code log π(aₜ|sₜ)}
     * @param oldLogProbs       {@code log π_old(aₜ|sₜ)}
     * @param behaviourLogProbs {@code log μ(aₜ|sₜ)}
     * @param advantages        {@code Aₜ} (normalized or not: the caller decides)
     * @param clip              ε, > 0
     * @param rhoBar            ρ̄ for the importance weights, > 0 ({@code POSITIVE_INFINITY}: untruncated)
     */
    public static double clippedSurrogate(double[] logProbs, double[] oldLogProbs, double[] behaviourLogProbs,
                                          double[] advantages, double clip, double rhoBar) {
        int n = logProbs.length;
        if (n == 0) {
            throw new IllegalArgumentException("logProbs: empty");
        }
        check("logProbs", logProbs, n);
        check("oldLogProbs", oldLogProbs, n);
        check("advantages", advantages, n);
        if (!(clip > 0)) {
            throw new IllegalArgumentException("clip must be > 0: " + clip);
        }
        double[] w = truncatedWeights(oldLogProbs, behaviourLogProbs, rhoBar);
        double sum = 0;
        for (int t = 0; t < n; t++) {
            double ratio = Math.exp(logProbs[t] - oldLogProbs[t]);
            double clipped = Math.min(Math.max(ratio, 1 - clip), 1 + clip);
            sum += -w[t] * Math.min(ratio * advantages[t], clipped * advantages[t]);
        }
        return sum / n;
    }

    private static void check(String what, double[] series, int n) {
        if (series.length != n) {
            throw new IllegalArgumentException(what + ": length " + series.length + " != " + n);
        }
        for (int i = 0; i < n; i++) {
            if (!Double.isFinite(series[i])) {
                throw new IllegalArgumentException(what + "[" + i + "] is not finite: " + series[i]);
            }
        }
    }
}
