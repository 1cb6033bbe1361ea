package dev.tributary.rl.returns;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** V-trace against values worked out by hand from the paper's recursion, and against its closed form. */
class VTraceTest {
    private static final double EPS = 1e-12;

    /**
     * Three steps, γ = 0.9, the episode terminates at step 1 (γ₁ = 0), ratios π/μ = (2, 0.5, 1.5),
     * ρ̄ = ρ̄_pg = 1.2 and c̄ = 0.8, so that both truncations act on steps 0 and 2.
     */
    @Test
    void terminationInTheMiddleWithClipping() {
        double[] ratios = {2.0, 0.5, 1.5};
        double[] discounts = {0.9, 0.0, 0.9};
        double[] rewards = {1, 2, 3};
        double[] values = {0.5, 1.0, 1.5};
        double bootstrap = 2.0;

        // ρ = (1.2, 0.5, 1.2), c = (0.8, 0.5, 0.8)
        // δ₂ = 1.2·(3 + 0.9·2.0 − 1.5) = 3.96
        // δ₁ = 0.5·(2 + 0·1.5 − 1.0) = 0.5      (terminated: V(x₂) belongs to the next episode)
        // δ₀ = 1.2·(1 + 0.9·1.0 − 0.5) = 1.68
        // v₂ = 1.5 + 3.96 = 5.46
        // v₁ = 1.0 + 0.5 + 0·0.5·(v₂ − V₂) = 1.5
        // v₀ = 0.5 + 1.68 + 0.9·0.8·(v₁ − V₁) = 0.5 + 1.68 + 0.36 = 2.54
        // A₂ = 1.2·(3 + 0.9·2.0 − 1.5) = 3.96
        // A₁ = 0.5·(2 + 0·v₂ − 1.0) = 0.5
        // A₀ = 1.2·(1 + 0.9·v₁ − 0.5) = 1.2·1.85 = 2.22
        VTrace.Result r = VTrace.compute(log(ratios), discounts, rewards, values, bootstrap,
                new VTrace.Clipping(1.2, 0.8, 1.2));
        assertArrayEquals(new double[] {2.54, 1.5, 5.46}, r.vs(), EPS);
        assertArrayEquals(new double[] {2.22, 0.5, 3.96}, r.pgAdvantages(), EPS);
    }

    /** Four steps without an episode end; IMPALA's ρ̄ = c̄ = 1; ratios (0.5, 1, 4, 0.25), γ = 0.5. */
    @Test
    void fourStepsWithImpalaClipping() {
        double[] ratios = {0.5, 1.0, 4.0, 0.25};
        double[] discounts = {0.5, 0.5, 0.5, 0.5};
        double[] rewards = {1, 0, 2, -1};
        double[] values = {1, 2, 0, 1};
        double bootstrap = 4;

        // ρ = c = (0.5, 1, 1, 0.25)
        // δ₃ = 0.25·(−1 + 0.5·4 − 1) = 0
        // δ₂ = 1·(2 + 0.5·1 − 0) = 2.5
        // δ₁ = 1·(0 + 0.5·0 − 2) = −2
        // δ₀ = 0.5·(1 + 0.5·2 − 1) = 0.5
        // v₃ − V₃ = 0                        → v₃ = 1
        // v₂ − V₂ = 2.5 + 0.5·1·0 = 2.5       → v₂ = 2.5
        // v₁ − V₁ = −2 + 0.5·1·2.5 = −0.75    → v₁ = 1.25
        // v₀ − V₀ = 0.5 + 0.5·0.5·(−0.75) = 0.3125 → v₀ = 1.3125
        // A₃ = 0.25·(−1 + 0.5·4 − 1) = 0
        // A₂ = 1·(2 + 0.5·v₃ − 0) = 2.5
        // A₁ = 1·(0 + 0.5·v₂ − 2) = −0.75
        // A₀ = 0.5·(1 + 0.5·v₁ − 1) = 0.3125
        VTrace.Result r = VTrace.compute(log(ratios), discounts, rewards, values, bootstrap, VTrace.Clipping.IMPALA);
        assertArrayEquals(new double[] {1.3125, 1.25, 2.5, 1}, r.vs(), EPS);
        assertArrayEquals(new double[] {0.3125, -0.75, 2.5, 0}, r.pgAdvantages(), EPS);
    }

    /** Two steps where only c̄ binds: ratios (3, 3) with ρ̄ = ∞, c̄ = 1, γ = 1. */
    @Test
    void traceCoefficientClippingAlone() {
        // δ₁ = 3·(1 + 1·0 − 0) = 3; δ₀ = 3·(0 + 1·0 − 0) = 0
        // v₁ = 3; v₀ = 0 + 0 + 1·min(1, 3)·3 = 3 (with c̄ = ∞ it would be 9)
        double[] logRhos = log(new double[] {3, 3});
        double inf = Double.POSITIVE_INFINITY;
        VTrace.Result r = VTrace.compute(logRhos, new double[] {1, 1}, new double[] {0, 1}, new double[] {0, 0}, 0,
                new VTrace.Clipping(inf, 1, inf));
        assertArrayEquals(new double[] {3, 3}, r.vs(), EPS);
        VTrace.Result unclipped = VTrace.compute(logRhos, new double[] {1, 1}, new double[] {0, 1},
                new double[] {0, 0}, 0, VTrace.Clipping.NONE);
        assertArrayEquals(new double[] {9, 3}, unclipped.vs(), EPS);
    }

    /** The recursion agrees with the paper's closed form (its equation 1) on random trajectories. */
    @Test
    void agreesWithTheClosedForm() {
        SplittableRandom rng = new SplittableRandom(3);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rng.nextInt(12);
            double[] logRhos = new double[n];
            double[] discounts = new double[n];
            double[] rewards = new double[n];
            double[] values = new double[n];
            for (int t = 0; t < n; t++) {
                logRhos[t] = rng.nextDouble(-2, 2);
                discounts[t] = rng.nextInt(5) == 0 ? 0 : 0.99;
                rewards[t] = rng.nextDouble(-1, 1);
                values[t] = rng.nextDouble(-3, 3);
            }
            double bootstrap = rng.nextDouble(-3, 3);
            VTrace.Clipping clipping = new VTrace.Clipping(rng.nextDouble(0.5, 2), rng.nextDouble(0.5, 2),
                    rng.nextDouble(0.5, 2));
            VTrace.Result r = VTrace.compute(logRhos, discounts, rewards, values, bootstrap, clipping);
            double[] expected = closedForm(logRhos, discounts, rewards, values, bootstrap, clipping);
            assertArrayEquals(expected, r.vs(), 1e-9, "trial " + trial);
        }
    }

    @Test
    void refusesMalformedInput() {
        double[] one = {0};
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> VTrace.compute(one, new double[] {0.9, 0.9}, one, one, 0, VTrace.Clipping.IMPALA));
        assertEquals("discounts: length 2 != 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> VTrace.compute(one, one, new double[] {Double.NaN}, one, 0, VTrace.Clipping.IMPALA));
        assertEquals("rewards[0] is not finite: NaN", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> VTrace.compute(one, new double[] {1.5}, one, one, 0, VTrace.Clipping.IMPALA));
        assertEquals("discounts[0] must be in [0, 1]: 1.5", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new VTrace.Clipping(0, 1, 1));
        assertThrows(IllegalArgumentException.class,
                () -> VTrace.compute(new double[0], new double[0], new double[0], new double[0], 0,
                        VTrace.Clipping.IMPALA));
    }

    /**
     * {@code vₛ = V(xₛ) + Σ_{t ≥ s} (Π_{s ≤ i < t} γᵢ cᵢ) δₜV}, summed term by term (IMPALA eq. 1 with per-step
     * discounts).
     */
    static double[] closedForm(double[] logRhos, double[] discounts, double[] rewards, double[] values,
                               double bootstrap, VTrace.Clipping clipping) {
        int n = values.length;
        double[] vs = new double[n];
        for (int s = 0; s < n; s++) {
            double sum = 0;
            double weight = 1;
            for (int t = s; t < n; t++) {
                double ratio = Math.exp(logRhos[t]);
                double next = t + 1 < n ? values[t + 1] : bootstrap;
                double delta = Math.min(clipping.rhoBar(), ratio) * (rewards[t] + discounts[t] * next - values[t]);
                sum += weight * delta;
                weight *= discounts[t] * Math.min(clipping.cBar(), ratio);
            }
            vs[s] = values[s] + sum;
        }
        return vs;
    }

    static double[] log(double[] ratios) {
        double[] out = new double[ratios.length];
        for (int i = 0; i < ratios.length; i++) {
            out[i] = Math.log(ratios[i]);
        }
        return out;
    }
}
