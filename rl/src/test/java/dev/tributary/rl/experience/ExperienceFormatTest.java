package dev.tributary.rl.experience;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Space;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/** Experience survives its safetensors form bit for bit, for discrete and continuous actions. */
class ExperienceFormatTest {

    static Experience sample(int steps, int envs, int obs, int act, boolean discrete) {
        int n = steps * envs;
        float[] o = new float[n * obs];
        float[] next = new float[n * obs];
        for (int i = 0; i < o.length; i++) {
            o[i] = (float) Math.sin(i) * 0.1f;
            next[i] = (float) Math.cos(i) * 0.1f;
        }
        float[] actions = new float[n * act];
        for (int i = 0; i < actions.length; i++) {
            actions[i] = discrete ? i % 3 : 0.25f * (i % 5) - 0.5f;
        }
        float[] rewards = new float[n];
        boolean[] terminated = new boolean[n];
        boolean[] truncated = new boolean[n];
        float[] returns = new float[n];
        float[] logp = new float[n];
        long[] versions = new long[n];
        for (int i = 0; i < n; i++) {
            rewards[i] = -i * 0.5f;
            terminated[i] = i % 7 == 3;
            truncated[i] = i % 11 == 5;
            returns[i] = terminated[i] || truncated[i] ? i : 0;
            logp[i] = -0.1f * i;
            versions[i] = 4 + i / envs;
        }
        return new Experience(steps, envs, obs, act, o, next, actions, rewards, terminated, truncated, logp, versions,
                returns);
    }

    @Test
    void discreteRoundTrip() {
        Space obs = ClassicControl.acrobot().observationSpace();
        Space acts = ClassicControl.acrobot().actionSpace();
        Experience x = sample(5, 3, 6, 1, true);
        Experience y = ExperienceFormat.decode(ModelImage.tensors(ExperienceFormat.toBytes(x, acts, Arena.ofAuto()), "x"),
                obs, acts);
        assertSame(x, y);
    }

    @Test
    void continuousRoundTrip() {
        Space obs = ClassicControl.pendulum().observationSpace();
        Space acts = ClassicControl.pendulum().actionSpace();
        Experience x = sample(4, 2, 3, 1, false);
        Experience y = ExperienceFormat.decode(ExperienceFormat.encode(x, acts), obs, acts);
        assertSame(x, y);
        assertEquals(4, y.minPolicyVersion());
        assertEquals(7, y.maxPolicyVersion());
    }

    @Test
    void aTensorOfTheWrongRankIsNamed() {
        Space obs = ClassicControl.pendulum().observationSpace();
        Space acts = ClassicControl.pendulum().actionSpace();
        TensorMap m = ExperienceFormat.encode(sample(4, 2, 3, 1, false), acts);
        m.put(ExperienceFormat.REWARDS, dev.tributary.tensor.Tensor.ofFloats(new long[] {8}, new float[8]));
        InvalidExperienceException e = assertThrows(InvalidExperienceException.class,
                () -> ExperienceFormat.decode(m, obs, acts));
        assertEquals("shape", e.reason());
        assertEquals("tensor rewards: shape [8] is not [T, E] with 1 <= T, E <= 2^20", e.getMessage());
    }

    private static void assertSame(Experience x, Experience y) {
        assertEquals(x.steps(), y.steps());
        assertEquals(x.envs(), y.envs());
        assertArrayEquals(x.observations(), y.observations());
        assertArrayEquals(x.nextObservations(), y.nextObservations());
        assertArrayEquals(x.actions(), y.actions());
        assertArrayEquals(x.rewards(), y.rewards());
        assertArrayEquals(x.terminated(), y.terminated());
        assertArrayEquals(x.truncated(), y.truncated());
        assertArrayEquals(x.behaviourLogProbs(), y.behaviourLogProbs());
        assertArrayEquals(x.policyVersions(), y.policyVersions());
        assertArrayEquals(x.episodeReturns(), y.episodeReturns());
    }
}
