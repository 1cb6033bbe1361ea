package dev.tributary.rl.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.tributary.tensor.TensorMap;
import org.junit.jupiter.api.Test;

/** Adam's first step and gradient clipping; a few steps fit the critic to a target. */
class AdamTest {

    /** On the first step m̂/√v̂ = g/|g|, so every parameter with a gradient moves by lr·g/(|g| + ε). */
    @Test
    void firstStepMovesEachParameterByTheLearningRate() {
        try (ActorCritic policy = ActorCritic.create(3, new Head.Gaussian(1), 1, 4)) {
            TensorMap before = policy.weights();
            Adam adam = new Adam(policy, 0.9, 0.999, 1e-8);
            float[][] obs = ActorCriticTest.observations(8, 3, 2, 1f);
            Adam.StepStats stats = adam.step(p -> loss(p, obs), 0.01, 0.5);
            assertTrue(stats.gradNorm() > 0, "gradient norm " + stats.gradNorm());
            TensorMap after = policy.weights();
            int moved = 0;
            for (String name : before.names()) {
                float[] a = before.tensor(name).toFloatArray();
                float[] b = after.tensor(name).toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    float d = Math.abs(b[i] - a[i]);
                    assertTrue(d < 0.01 + 1e-6, name + "[" + i + "] moved " + d);
                    if (d > 0.0099) {
                        moved++;
                    }
                }
            }
            assertTrue(moved > 20, "parameters that moved by lr: " + moved);
            assertEquals(1, adam.steps());
        }
    }

    @Test
    void fitsTheCriticToATarget() {
        try (ActorCritic policy = ActorCritic.create(3, new Head.Gaussian(1), 1, 16)) {
            Adam adam = new Adam(policy, 0.9, 0.999, 1e-5);
            float[][] obs = ActorCriticTest.observations(32, 3, 2, 1f);
            double first = adam.step(p -> loss(p, obs), 0.01, Double.POSITIVE_INFINITY).loss();
            double last = first;
            for (int i = 0; i < 200; i++) {
                last = adam.step(p -> loss(p, obs), 0.01, Double.POSITIVE_INFINITY).loss();
            }
            assertTrue(last < 0.2 * first, "loss " + first + " -> " + last);
        }
    }

    /** A resumed optimizer (weights and moments restored) takes exactly the step the original would have. */
    @Test
    void aRestoredStateTakesTheSameNextStep() {
        float[][] obs = ActorCriticTest.observations(8, 3, 2, 1f);
        try (ActorCritic a = ActorCritic.create(3, new Head.Gaussian(1), 1, 4);
             ActorCritic b = ActorCritic.create(3, new Head.Gaussian(1), 9, 4)) {
            Adam first = new Adam(a, 0.9, 0.999, 1e-5);
            for (int i = 0; i < 3; i++) {
                first.step(p -> loss(p, obs), 0.01, 0.5);
            }
            b.setWeights(a.weights());
            Adam resumed = new Adam(b, 0.9, 0.999, 1e-5);
            resumed.restore(first.state());
            assertEquals(3, resumed.steps());
            first.step(p -> loss(p, obs), 0.01, 0.5);
            resumed.step(p -> loss(p, obs), 0.01, 0.5);
            TensorMap wa = a.weights();
            TensorMap wb = b.weights();
            for (String n : wa.names()) {
                assertTrue(wa.tensor(n).contentEquals(wb.tensor(n)), n);
            }
        }
    }

    /** (V(s) − 2)² plus the log-probability of action 0.5, so that every parameter gets a gradient. */
    private static NDArray loss(ActorCritic p, float[][] obs) {
        float[] flat = new float[obs.length * 3];
        for (int i = 0; i < obs.length; i++) {
            System.arraycopy(obs[i], 0, flat, 3 * i, 3);
        }
        NDArray x = p.manager().create(flat, new Shape(obs.length, 3));
        NDArray a = p.manager().full(new Shape(obs.length, 1), 0.5f);
        Evaluation e = p.evaluate(x, a);
        return e.values().sub(2f).square().mean().sub(e.logProbs().mean().mul(0.01f));
    }
}
