package dev.tributary.rl.ppo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The clipped surrogate against values worked out by hand. */
class PpoLossTest {
    private static final double EPS = 1e-12;

    /**
     * Four samples, ε = 0.2, μ = π_old: ratios 1.5 (A = 2, clipped to 1.2), 0.5 (A = 2, unclipped: the
     * minimum takes the smaller 0.5), 0.5 (A = −1, clipped to 0.8), 1.1 (A = −3, inside the range).
     */
    @Test
    void clipsOnTheSideTheAdvantagePoints() {
        double[] old = {0, 0, 0, 0};
        double[] ratios = {1.5, 0.5, 0.5, 1.1};
        double[] adv = {2, 2, -1, -3};
        // −min(3, 2.4) = −2.4; −min(1, 1.6) = −1; −min(−0.5, −0.8) = 0.8; −min(−3.3, −3.3) = 3.3
        double expected = (-2.4 - 1 + 0.8 + 3.3) / 4;
        assertEquals(expected, PpoLoss.clippedSurrogate(log(ratios), old, old, adv, 0.2, 1), EPS);
    }

    /** A behaviour policy that gave the actions less probability than π_old: weights min(π_old/μ, ρ̄). */
    @Test
    void truncatedImportanceWeightsAgainstAStaleBehaviourPolicy() {
        double[] old = log(new double[] {0.5, 0.2, 0.9});
        double[] behaviour = log(new double[] {0.25, 0.4, 0.3});
        // π_old/μ = (2, 0.5, 3) → with ρ̄ = 1: (1, 0.5, 1); with ρ̄ = 2.5: (2, 0.5, 2.5)
        assertArrayEquals(new double[] {1, 0.5, 1}, PpoLoss.truncatedWeights(old, behaviour, 1), EPS);
        assertArrayEquals(new double[] {2, 0.5, 2.5}, PpoLoss.truncatedWeights(old, behaviour, 2.5), EPS);
        // at π = π_old every ratio is 1: loss = −mean(w·A) = −(1·1 + 0.5·2 + 1·(−4))/3 = 2/3
        double[] adv = {1, 2, -4};
        assertEquals(2.0 / 3, PpoLoss.clippedSurrogate(old, old, behaviour, adv, 0.2, 1), EPS);
    }

    @Test
    void refusesMalformedInput() {
        double[] one = {0};
        assertEquals("clip must be > 0: 0.0", assertThrows(IllegalArgumentException.class,
                () -> PpoLoss.clippedSurrogate(one, one, one, one, 0, 1)).getMessage());
        assertEquals("advantages[0] is not finite: NaN", assertThrows(IllegalArgumentException.class,
                () -> PpoLoss.clippedSurrogate(one, one, one, new double[] {Double.NaN}, 0.2, 1)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> PpoLoss.truncatedWeights(one, new double[2], 1));
    }

    private static double[] log(double[] p) {
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = Math.log(p[i]);
        }
        return out;
    }
}
