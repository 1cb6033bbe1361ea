package dev.tributary.rl.returns;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.DoubleRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import java.util.List;

/** Identities V-trace and GAE must satisfy for any trajectory. */
class ReturnsProperties {

    /**
     * On-policy (π = μ) and untruncated (ρ̄ = c̄ = ∞), V-trace targets are the n-step Bellman targets
     * {@code Σ_{t ≥ s} (Π_{s ≤ i < t} γᵢ) rₜ + (Π_{s ≤ i < T} γᵢ) V(x_T)}, whatever the value function.
     */
    @Property(tries = 300)
    void onPolicyVTraceIsTheNStepReturn(@ForAll @Size(min = 1, max = 16) List<@DoubleRange(min = -5, max = 5) Double> r,
                                        @ForAll @DoubleRange(min = -5, max = 5) double bootstrap,
                                        @ForAll @IntRange(min = 0, max = 1000) int seed) {
        int n = r.size();
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        double[] rewards = unbox(r);
        double[] values = new double[n];
        double[] discounts = new double[n];
        for (int t = 0; t < n; t++) {
            values[t] = rng.nextDouble(-5, 5);
            discounts[t] = rng.nextInt(4) == 0 ? 0 : rng.nextDouble();
        }
        VTrace.Result v = VTrace.compute(new double[n], discounts, rewards, values, bootstrap, VTrace.Clipping.NONE);
        for (int s = 0; s < n; s++) {
            double target = 0;
            double discount = 1;
            for (int t = s; t < n; t++) {
                target += discount * rewards[t];
                discount *= discounts[t];
            }
            target += discount * bootstrap;
            assertEquals(target, v.vs()[s], 1e-9, "step " + s);
            double nextVs = s + 1 < n ? v.vs()[s + 1] : bootstrap;
            assertEquals(rewards[s] + discounts[s] * nextVs - values[s], v.pgAdvantages()[s], 1e-9);
        }
    }

    /** Nothing to learn: zero rewards and zero values give zero targets and advantages, any ratios. */
    @Property(tries = 200)
    void zeroRewardsAndValuesGiveZero(@ForAll @Size(min = 1, max = 16) List<@DoubleRange(min = -3, max = 3) Double> logRhos,
                                      @ForAll @DoubleRange(min = 0, max = 1) double gamma,
                                      @ForAll @DoubleRange(min = 0, max = 1) double lambda) {
        int n = logRhos.size();
        double[] zeros = new double[n];
        double[] discounts = new double[n];
        java.util.Arrays.fill(discounts, gamma);
        VTrace.Result v = VTrace.compute(unbox(logRhos), discounts, zeros, zeros, 0, VTrace.Clipping.IMPALA);
        assertArrayEquals(zeros, v.vs(), 0);
        assertArrayEquals(zeros, v.pgAdvantages(), 0);
        boolean[] none = new boolean[n];
        Gae.Result g = Gae.compute(zeros, zeros, zeros, none, none, gamma, lambda);
        assertArrayEquals(zeros, g.advantages(), 0);
    }

    /** With π = μ and nothing truncated, V-trace targets equal the GAE(λ = 1) returns. */
    @Property(tries = 200)
    void onPolicyVTraceEqualsGaeWithLambdaOne(@ForAll @Size(min = 1, max = 16) List<@DoubleRange(min = -5, max = 5) Double> r,
                                              @ForAll @IntRange(min = 0, max = 1000) int seed) {
        int n = r.size();
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        double gamma = 0.99;
        double[] rewards = unbox(r);
        double[] values = new double[n];
        boolean[] terminated = new boolean[n];
        double[] discounts = new double[n];
        for (int t = 0; t < n; t++) {
            values[t] = rng.nextDouble(-5, 5);
            terminated[t] = rng.nextInt(5) == 0;
            discounts[t] = terminated[t] ? 0 : gamma;
        }
        double bootstrap = rng.nextDouble(-5, 5);
        double[] next = new double[n];
        for (int t = 0; t < n; t++) {
            next[t] = t + 1 < n ? values[t + 1] : bootstrap;
        }
        VTrace.Result v = VTrace.compute(new double[n], discounts, rewards, values, bootstrap, VTrace.Clipping.NONE);
        Gae.Result g = Gae.compute(rewards, values, next, terminated, new boolean[n], gamma, 1);
        assertArrayEquals(g.returns(), v.vs(), 1e-9);
    }

    private static double[] unbox(List<Double> xs) {
        double[] out = new double[xs.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = xs.get(i);
        }
        return out;
    }
}
