package dev.tributary.rl.returns;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** GAE against values worked out by hand, and against a recursive definition. */
class GaeTest {
    private static final double EPS = 1e-12;
    private static final double[] REWARDS = {1, 2, 3};
    private static final double[] VALUES = {0.5, 1.0, 1.5};
    /** V(s₁), then 7 for the last observation of the episode that ends at step 1, then the bootstrap V(s₃). */
    private static final double[] NEXT_VALUES = {1.0, 7.0, 2.0};
    private static final boolean[] NONE = {false, false, false};
    private static final boolean[] AT_STEP_1 = {false, true, false};

    /** γ = 0.9, λ = 0.8; a time limit cuts the episode at step 1: it bootstraps from V(last observation) = 7. */
    @Test
    void truncatedEpisodeBootstrapsFromItsLastObservation() {
        // δ₂ = 3 + 0.9·2 − 1.5 = 3.3,  A₂ = 3.3
        // δ₁ = 2 + 0.9·7 − 1.0 = 7.3,  A₁ = 7.3            (done: no trace from step 2)
        // δ₀ = 1 + 0.9·1 − 0.5 = 1.4,  A₀ = 1.4 + 0.9·0.8·7.3 = 6.656
        Gae.Result r = Gae.compute(REWARDS, VALUES, NEXT_VALUES, NONE, AT_STEP_1, 0.9, 0.8);
        assertArrayEquals(new double[] {6.656, 7.3, 3.3}, r.advantages(), EPS);
        assertArrayEquals(new double[] {7.156, 8.3, 4.8}, r.returns(), EPS);
    }

    /** The same, but the episode terminates at step 1: no bootstrap there. */
    @Test
    void terminatedEpisodeDoesNotBootstrap() {
        // δ₁ = 2 − 1.0 = 1,  A₁ = 1;  A₀ = 1.4 + 0.72·1 = 2.12
        Gae.Result r = Gae.compute(REWARDS, VALUES, NEXT_VALUES, AT_STEP_1, NONE, 0.9, 0.8);
        assertArrayEquals(new double[] {2.12, 1, 3.3}, r.advantages(), EPS);
        Gae.Result both = Gae.compute(REWARDS, VALUES, NEXT_VALUES, AT_STEP_1, AT_STEP_1, 0.9, 0.8);
        assertArrayEquals(r.advantages(), both.advantages(), EPS, "terminated and truncated counts as terminated");
    }

    /** λ = 0 gives one-step TD errors; λ = 1 the discounted return minus V. */
    @Test
    void lambdaZeroAndOne() {
        Gae.Result td = Gae.compute(REWARDS, VALUES, NEXT_VALUES, NONE, NONE, 0.9, 0);
        assertArrayEquals(new double[] {1.4, 7.3, 3.3}, td.advantages(), EPS);
        double[] next = {1.0, 1.5, 2.0};
        Gae.Result mc = Gae.compute(REWARDS, VALUES, next, NONE, NONE, 0.9, 1);
        double g2 = 3 + 0.9 * 2.0;
        double g1 = 2 + 0.9 * g2;
        double g0 = 1 + 0.9 * g1;
        assertArrayEquals(new double[] {g0, g1, g2}, mc.returns(), EPS);
    }

    @Test
    void agreesWithTheRecursiveDefinition() {
        SplittableRandom rng = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rng.nextInt(12);
            double[] rewards = new double[n];
            double[] values = new double[n + 1];
            double[] next = new double[n];
            boolean[] terminated = new boolean[n];
            boolean[] truncated = new boolean[n];
            for (int t = 0; t <= n; t++) {
                values[t] = rng.nextDouble(-3, 3);
            }
            for (int t = 0; t < n; t++) {
                rewards[t] = rng.nextDouble(-1, 1);
                terminated[t] = rng.nextInt(6) == 0;
                truncated[t] = rng.nextInt(6) == 0;
                next[t] = terminated[t] || truncated[t] ? rng.nextDouble(-3, 3) : values[t + 1];
            }
            double[] v = java.util.Arrays.copyOf(values, n);
            next[n - 1] = terminated[n - 1] || truncated[n - 1] ? next[n - 1] : values[n];
            Gae.Result r = Gae.compute(rewards, v, next, terminated, truncated, 0.99, 0.95);
            for (int t = 0; t < n; t++) {
                assertEquals(advantage(t, rewards, v, next, terminated, truncated, 0.99, 0.95), r.advantages()[t],
                        1e-9, "trial " + trial + " step " + t);
            }
        }
    }

    @Test
    void refusesMalformedInput() {
        double[] one = {0};
        boolean[] no = {false};
        assertEquals("nextValues: length 0 != 1", assertThrows(IllegalArgumentException.class,
                () -> Gae.compute(one, one, new double[0], no, no, 0.9, 0.9)).getMessage());
        assertEquals("lambda must be in [0, 1]: 1.1", assertThrows(IllegalArgumentException.class,
                () -> Gae.compute(one, one, one, no, no, 0.9, 1.1)).getMessage());
    }

    /** Aₜ written as the definition reads, recursing forward. */
    private static double advantage(int t, double[] r, double[] v, double[] next, boolean[] term, boolean[] trunc,
                                    double gamma, double lambda) {
        double delta = r[t] + (term[t] ? 0 : gamma * next[t]) - v[t];
        if (term[t] || trunc[t] || t + 1 == r.length) {
            return delta;
        }
        return delta + gamma * lambda * advantage(t + 1, r, v, next, term, trunc, gamma, lambda);
    }
}
