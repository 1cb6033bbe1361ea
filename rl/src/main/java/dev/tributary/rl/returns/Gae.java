package dev.tributary.rl.returns;

/**
 * Generalized advantage estimation (Schulman et al. 2016) for one trajectory of T steps, with episode ends
 * inside it:
 * <pre>
 *   δₜ = rₜ + γ V(sₜ₊₁)(1 − terminatedₜ) − V(sₜ)
 *   Aₜ = δₜ + γλ (1 − doneₜ) Aₜ₊₁,    doneₜ = terminatedₜ or truncatedₜ,   A_T = 0
 * </pre>
 * {@code V(sₜ₊₁)} is the value of the observation that step t produced: for a step that ended its episode
 * that is the episode's <em>last</em> observation (not the first one of the next episode), so a truncated
 * episode bootstraps from it while a terminated one does not. Returns are {@code Aₜ + V(sₜ)}. Pure, no state.
 */
public final class Gae {
    private Gae() {}

    /** Advantages and returns (the value targets), per step. */
    public record Result(double[] advantages, double[] returns) {}

    /**
     * Computes GAE for one trajectory.
     *
     * @param rewards    {@code rₜ}, length T
     * @param values     {@code V(sₜ)}, length T
     * @param nextValues {@code V(sₜ₊₁)}, the value of the observation after step t (the final observation
     *                   when step t ended an episode; ignored when it terminated), length T
     * @param terminated whether step t reached a terminal state
     * @param truncated  whether step t was cut by a time limit
     * @param gamma      discount γ in [0, 1]
     * @param lambda     λ in [0, 1]
     * @throws IllegalArgumentException on mismatched lengths, an empty trajectory, non-finite inputs, or
     *                                  γ or λ outside [0, 1]
     */
    public static Result compute(double[] rewards, double[] values, double[] nextValues, boolean[] terminated,
                                 boolean[] truncated, double gamma, double lambda) {
        int n = Series.length("rewards", rewards);
        Series.sameLength(n, "values", values);
        Series.sameLength(n, "nextValues", nextValues);
        Series.sameLength(n, "terminated", terminated);
        Series.sameLength(n, "truncated", truncated);
        Series.unit("gamma", gamma);
        Series.unit("lambda", lambda);

        double[] advantages = new double[n];
        double[] returns = new double[n];
        double next = 0;
        for (int t = n - 1; t >= 0; t--) {
            double bootstrap = terminated[t] ? 0 : gamma * nextValues[t];
            double delta = rewards[t] + bootstrap - values[t];
            boolean done = terminated[t] || truncated[t];
            next = delta + (done ? 0 : gamma * lambda * next);
            advantages[t] = next;
            returns[t] = next + values[t];
        }
        return new Result(advantages, returns);
    }
}
