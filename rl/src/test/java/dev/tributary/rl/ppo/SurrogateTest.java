package dev.tributary.rl.ppo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.rl.policy.Evaluation;
import dev.tributary.rl.policy.Head;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The tensor loss the trainer minimizes agrees with the pure {@link PpoLoss} reference. */
class SurrogateTest {

    @Test
    void policyTermMatchesTheReference() {
        SplittableRandom rng = new SplittableRandom(11);
        int n = 64;
        double[] logProbs = new double[n];
        double[] old = new double[n];
        double[] behaviour = new double[n];
        double[] adv = new double[n];
        for (int i = 0; i < n; i++) {
            logProbs[i] = -rng.nextDouble(0.05, 2);
            old[i] = logProbs[i] + rng.nextDouble(-0.4, 0.4);
            behaviour[i] = old[i] + rng.nextDouble(-0.5, 0.5);
            adv[i] = rng.nextDouble(-2, 2);
        }
        double rhoBar = 1.0;
        double[] w = PpoLoss.truncatedWeights(old, behaviour, rhoBar);
        try (ActorCritic holder = ActorCritic.create(1, new Head.Categorical(2), 0, 1)) {
            NDManager m = holder.manager().newSubManager();
            Evaluation e = new Evaluation(m.create(floats(logProbs)), m.zeros(new ai.djl.ndarray.types.Shape(n)),
                    m.zeros(new ai.djl.ndarray.types.Shape(n)));
            Surrogate.Terms t = Surrogate.compute(e, m.create(floats(old)), m.create(floats(w)), m.create(floats(adv)),
                    m.zeros(new ai.djl.ndarray.types.Shape(n)), m.zeros(new ai.djl.ndarray.types.Shape(n)),
                    PpoConfig.cleanRl());
            double expected = PpoLoss.clippedSurrogate(logProbs, old, behaviour, adv, 0.2, rhoBar);
            assertEquals(expected, t.policy().getFloat(), 1e-5);
            m.close();
        }
    }

    private static float[] floats(double[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) x[i];
        }
        return out;
    }
}
