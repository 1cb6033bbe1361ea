package dev.tributary.rl.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.tributary.rl.env.Action;
import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.env.Space;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The actor-critic: log-probabilities, sampling, seeds, and weights crossing as a TensorMap. */
class ActorCriticTest {
    private static final Environment CARTPOLE = ClassicControl.cartPole();
    private static final Environment PENDULUM = ClassicControl.pendulum();

    @Test
    void categoricalLogProbsAreTheLogSoftmaxOfTheLogits() {
        try (ActorCritic policy = ActorCritic.create(CARTPOLE.observationSpace(), CARTPOLE.actionSpace(), 1, 16, 16)) {
            float[][] obs = observations(64, 4, 2, 3f);
            Acting acting = policy.act(obs);
            float[][] logits = policy.actorOutputs(obs);
            for (int i = 0; i < obs.length; i++) {
                int a = ((Action.Discrete) acting.actions()[i]).index();
                double logNormalizer = Math.log(Math.exp(logits[i][0]) + Math.exp(logits[i][1]));
                assertEquals(logits[i][a] - logNormalizer, acting.logProbs()[i], 1e-5, "row " + i);
            }
            assertArrayEquals(policy.values(obs), acting.values());
        }
    }

    @Test
    void gaussianLogProbsFollowTheDensity() {
        try (ActorCritic policy = ActorCritic.create(3, new Head.Gaussian(2), 2, 8)) {
            TensorMap w = policy.weights();
            w.put("actor_logstd", Tensor.ofFloats(new long[] {1, 2}, -0.5f, 0.3f));
            policy.setWeights(w);
            float[][] obs = observations(32, 3, 5, 1f);
            Acting acting = policy.act(obs);
            float[][] means = policy.actorOutputs(obs);
            float[] logStd = policy.logStds();
            for (int i = 0; i < obs.length; i++) {
                float[] a = ((Action.Continuous) acting.actions()[i]).values();
                double expected = 0;
                for (int d = 0; d < 2; d++) {
                    double sigma = Math.exp(logStd[d]);
                    double z = (a[d] - means[i][d]) / sigma;
                    expected += -0.5 * z * z - Math.log(sigma) - 0.5 * Math.log(2 * Math.PI);
                }
                assertEquals(expected, acting.logProbs()[i], 1e-5, "row " + i);
            }
        }
    }

    /** Over many draws the sampled actions follow softmax(logits) (loose 5-sigma bound per action). */
    @Test
    void categoricalSamplesFollowTheProbabilities() {
        try (ActorCritic policy = ActorCritic.create(2, new Head.Categorical(3), 3, 8)) {
            TensorMap w = policy.weights();
            w.put("actor.2.bias", Tensor.ofFloats(new long[] {3}, 1f, 0f, -1f));
            w.put("actor.2.weight", Tensor.allocate(DType.F32, new long[] {3, 8}, Arena.ofAuto()));
            policy.setWeights(w);
            int n = 20_000;
            float[][] obs = observations(n, 2, 9, 1f);
            int[] counts = new int[3];
            for (Action a : policy.act(obs).actions()) {
                counts[((Action.Discrete) a).index()]++;
            }
            double z = Math.exp(1) + 1 + Math.exp(-1);
            double[] p = {Math.exp(1) / z, 1 / z, Math.exp(-1) / z};
            for (int a = 0; a < 3; a++) {
                double sd = Math.sqrt(n * p[a] * (1 - p[a]));
                assertTrue(Math.abs(counts[a] - n * p[a]) < 5 * sd, "action " + a + ": " + Arrays.toString(counts));
            }
        }
    }

    @Test
    void sameSeedGivesSameWeightsAndActions() {
        float[][] obs = observations(16, 3, 4, 1f);
        try (ActorCritic a = ActorCritic.create(PENDULUM.observationSpace(), PENDULUM.actionSpace(), 7, 32, 32);
             ActorCritic b = ActorCritic.create(PENDULUM.observationSpace(), PENDULUM.actionSpace(), 7, 32, 32);
             ActorCritic c = ActorCritic.create(PENDULUM.observationSpace(), PENDULUM.actionSpace(), 8, 32, 32)) {
            assertWeightsEqual(a.weights(), b.weights());
            Acting first = a.act(obs);
            assertArrayEquals(first.actions(), b.act(obs).actions());
            assertFalse(Arrays.equals(first.actions(), c.act(obs).actions()));
            assertFalse(Arrays.equals(first.actions(), a.act(obs).actions()), "the sampler moves on");
            a.reseed(7);
            assertArrayEquals(first.actions(), a.act(obs).actions(), "reseeding replays");
        }
    }

    @Test
    void weightsRoundTripBitExactly() {
        try (ActorCritic source = ActorCritic.create(CARTPOLE.observationSpace(), CARTPOLE.actionSpace(), 1, 64, 64);
             ActorCritic target = ActorCritic.create(CARTPOLE.observationSpace(), CARTPOLE.actionSpace(), 2, 64, 64)) {
            TensorMap w = source.weights();
            target.setWeights(w);
            assertWeightsEqual(w, target.weights());
            float[][] obs = observations(8, 4, 1, 1f);
            assertArrayEquals(source.values(obs), target.values(obs));
            assertTrue(Arrays.deepEquals(source.actorOutputs(obs), target.actorOutputs(obs)));
        }
    }

    @Test
    void parametersAreNamedAsCleanRlsAgent() {
        try (ActorCritic d = ActorCritic.create(4, new Head.Categorical(2), 0, 64, 64);
             ActorCritic g = ActorCritic.create(3, new Head.Gaussian(1), 0, 64, 64)) {
            assertEquals(List.of("critic.0.weight", "critic.0.bias", "critic.2.weight", "critic.2.bias",
                    "critic.4.weight", "critic.4.bias", "actor.0.weight", "actor.0.bias", "actor.2.weight",
                    "actor.2.bias", "actor.4.weight", "actor.4.bias"), names(d));
            assertEquals("actor_logstd", names(g).getLast());
            assertEquals("actor_mean.4.weight", names(g).get(10));
            assertArrayEquals(new long[] {2, 64}, d.parameterInfos().get(10).shape());
        }
    }

    /** Orthogonal rows (gain √2) in the first layer, as torch.nn.init.orthogonal_ makes them. */
    @Test
    void hiddenLayersStartOrthogonal() {
        try (ActorCritic policy = ActorCritic.create(4, new Head.Categorical(2), 5, 16)) {
            float[] w = policy.weights().tensor("critic.0.weight").toFloatArray(); // [16, 4]: columns orthogonal
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 4; j++) {
                    double dot = 0;
                    for (int r = 0; r < 16; r++) {
                        dot += w[r * 4 + i] * w[r * 4 + j];
                    }
                    assertEquals(i == j ? 2.0 : 0.0, dot, 1e-5, i + "," + j);
                }
            }
        }
    }

    @Test
    void evaluateAgreesWithActing() {
        try (ActorCritic policy = ActorCritic.create(4, new Head.Categorical(2), 4, 16)) {
            float[][] obs = observations(10, 4, 6, 1f);
            Acting acting = policy.act(obs);
            long[] actions = Arrays.stream(acting.actions()).mapToLong(a -> ((Action.Discrete) a).index()).toArray();
            float[] flat = new float[40];
            for (int i = 0; i < 10; i++) {
                System.arraycopy(obs[i], 0, flat, 4 * i, 4);
            }
            try (NDArray x = policy.manager().create(flat, new Shape(10, 4));
                 NDArray a = policy.manager().create(actions)) {
                Evaluation e = policy.evaluate(x, a);
                assertArrayEquals(acting.logProbs(), e.logProbs().toFloatArray(), 1e-6f);
                assertArrayEquals(acting.values(), e.values().toFloatArray(), 1e-6f);
                for (float h : e.entropy().toFloatArray()) {
                    assertTrue(h > 0 && h <= Math.log(2) + 1e-6, "entropy " + h);
                }
            }
        }
    }

    @Test
    void refusesMalformedWeights() {
        try (ActorCritic policy = ActorCritic.create(4, new Head.Categorical(2), 0, 8)) {
            TensorMap w = policy.weights();
            w.put("critic.0.bias", Tensor.ofFloats(new long[] {7}, new float[7]));
            assertEquals("tensor critic.0.bias: shape [7] != [8]",
                    assertThrows(IllegalArgumentException.class, () -> policy.setWeights(w)).getMessage());
            TensorMap nan = policy.weights();
            nan.put("actor.2.bias", Tensor.ofFloats(new long[] {2}, 0f, Float.NaN));
            assertEquals("tensor actor.2.bias: element 1 is not finite: NaN",
                    assertThrows(IllegalArgumentException.class, () -> policy.setWeights(nan)).getMessage());
            TensorMap extra = policy.weights().put("bonus", Tensor.ofFloats(new long[] {1}, 1f));
            assertEquals("policy weights: unexpected tensor bonus",
                    assertThrows(IllegalArgumentException.class, () -> policy.setWeights(extra)).getMessage());
            assertThrows(IllegalArgumentException.class, () -> policy.act(new float[][] {{1f, 2f}}));
            assertThrows(IllegalArgumentException.class,
                    () -> ActorCritic.create(new Space.Discrete(3), new Space.Discrete(2), 0, 8));
        }
    }

    static float[][] observations(int n, int size, long seed, float scale) {
        SplittableRandom rng = new SplittableRandom(seed);
        float[][] out = new float[n][size];
        for (float[] row : out) {
            for (int j = 0; j < size; j++) {
                row[j] = (float) (rng.nextGaussian() * scale);
            }
        }
        return out;
    }

    private static List<String> names(ActorCritic p) {
        return p.parameterInfos().stream().map(TensorInfo::name).toList();
    }

    private static void assertWeightsEqual(TensorMap expected, TensorMap actual) {
        assertEquals(expected.names(), actual.names());
        for (String n : expected.names()) {
            assertTrue(expected.tensor(n).contentEquals(actual.tensor(n)), n);
        }
    }
}
