package dev.tributary.rl.returns;

/**
 * V-trace targets and policy-gradient advantages (Espeholt et al. 2018, IMPALA, section 4), for one
 * trajectory of {@code T} steps taken by a behaviour policy μ and evaluated under the learner's policy π:
 * <pre>
 *   ρₜ = min(ρ̄, πₜ/μₜ),  cₜ = min(c̄, πₜ/μₜ)
 *   δₜV = ρₜ (rₜ + γₜ V(xₜ₊₁) − V(xₜ))
 *   vₛ − V(xₛ) = δₛV + γₛ cₛ (vₛ₊₁ − V(xₛ₊₁)),   v_T = V(x_T) (the bootstrap value)
 *   Aₛ = ρ̂ₛ (rₛ + γₛ vₛ₊₁ − V(xₛ)),            ρ̂ₛ = min(ρ̄_pg, πₛ/μₛ)
 * </pre>
 * The discounts are per step, {@code γₜ = γ·(1 − terminatedₜ)}, so that an episode ending inside the
 * trajectory cuts both the bootstrap and the trace there; {@code V(xₜ₊₁)} after such a step belongs to the
 * next episode and is multiplied by 0. A <em>truncated</em> step (a time limit) should still bootstrap from
 * the value of its last observation: pass {@code γₜ = 0} and the reward {@code rₜ + γ·V(x_last)}, which gives
 * exactly the V-trace of the episode cut there.
 *
 * <p>The arguments follow DeepMind's reference {@code vtrace.from_importance_weights}: log importance
 * ratios {@code log πₜ − log μₜ}, time-major single trajectories. Pure, no state.
 */
public final class VTrace {
    private VTrace() {}

    /**
     * Truncation levels; IMPALA uses 1 for all three. {@link Double#POSITIVE_INFINITY} turns one off.
     *
     * @param rhoBar   ρ̄, truncates the importance weight in δₜV (sets which value function is learnt)
     * @param cBar     c̄, truncates the trace coefficients (sets the speed of convergence)
     * @param pgRhoBar ρ̄ for the policy-gradient advantage
     */
    public record Clipping(double rhoBar, double cBar, double pgRhoBar) {
        /** ρ̄ = c̄ = ρ̄_pg = 1, the paper's setting. */
        public static final Clipping IMPALA = new Clipping(1, 1, 1);

        /** No truncation at all. */
        public static final Clipping NONE = new Clipping(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY,
                Double.POSITIVE_INFINITY);

        public Clipping {
            positive("rhoBar", rhoBar);
            positive("cBar", cBar);
            positive("pgRhoBar", pgRhoBar);
        }

        private static void positive(String what, double v) {
            if (!(v > 0)) {
                throw new IllegalArgumentException(what + " must be > 0: " + v);
            }
        }
    }

    /**
     * V-trace targets {@code vs} (regression targets for V(xₛ)) and policy-gradient advantages, per step.
     */
    public record Result(double[] vs, double[] pgAdvantages) {}

    /**
     * Computes V-trace for one trajectory.
     *
     * @param logRhos        {@code log π(aₜ|xₜ) − log μ(aₜ|xₜ)}, length T
     * @param discounts      {@code γₜ} in [0, 1], length T (0 where the episode terminated at step t)
     * @param rewards        {@code rₜ}, length T
     * @param values         {@code V(xₜ)} under the learner's value function, length T
     * @param bootstrapValue {@code V(x_T)}, the value of the observation after the last step
     * @param clipping       ρ̄, c̄ and the policy-gradient ρ̄
     * @throws IllegalArgumentException on mismatched lengths, an empty trajectory, non-finite inputs or a
     *                                  discount outside [0, 1], naming the series and index
     */
    public static Result compute(double[] logRhos, double[] discounts, double[] rewards, double[] values,
                                 double bootstrapValue, Clipping clipping) {
        int n = Series.length("logRhos", logRhos);
        Series.sameLength(n, "discounts", discounts);
        Series.sameLength(n, "rewards", rewards);
        Series.sameLength(n, "values", values);
        Series.finite("bootstrapValue", bootstrapValue);
        for (int t = 0; t < n; t++) {
            Series.unit("discounts[" + t + "]", discounts[t]);
        }

        double[] vs = new double[n];
        double[] pg = new double[n];
        double correction = 0; // vₜ₊₁ − V(xₜ₊₁), zero past the end
        for (int t = n - 1; t >= 0; t--) {
            double ratio = Math.exp(logRhos[t]);
            double nextValue = t + 1 < n ? values[t + 1] : bootstrapValue;
            double delta = Math.min(clipping.rhoBar(), ratio) * (rewards[t] + discounts[t] * nextValue - values[t]);
            correction = delta + discounts[t] * Math.min(clipping.cBar(), ratio) * correction;
            vs[t] = values[t] + correction;
        }
        for (int t = 0; t < n; t++) {
            double ratio = Math.exp(logRhos[t]);
            double nextVs = t + 1 < n ? vs[t + 1] : bootstrapValue;
            pg[t] = Math.min(clipping.pgRhoBar(), ratio) * (rewards[t] + discounts[t] * nextVs - values[t]);
        }
        return new Result(vs, pg);
    }
}
