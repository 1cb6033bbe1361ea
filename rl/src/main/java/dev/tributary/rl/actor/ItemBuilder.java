package dev.tributary.rl.actor;

import dev.tributary.rl.env.VectorEnvironment;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.policy.Acting;
import dev.tributary.rl.policy.ActorCritic;

/**
 * An actor's acting, one step at a time: runs a policy in vectorized environments and records each step
 * (observation, next observation, action, reward, end flags, behaviour log-probability, the policy version
 * it was taken with, the return of an episode that ended) into an experience item of T steps. The real
 * actor and the simulator's actors both act through it, so their items are the same.
 *
 * <p>Call order: construct (it resets the environments), then {@link #step} until it returns an item, as
 * often as wanted. One thread at a time; the environments stay the caller's to close.
 */
public final class ItemBuilder {
    private final VectorEnvironment envs;
    private final int steps;
    private final int e;
    private final int d;
    private final int a;
    private float[][] obs;
    private Experience item;
    private int t;

    /** Items of {@code steps} steps of every environment in {@code envs}, which it resets now. */
    public ItemBuilder(VectorEnvironment envs, int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps < 1: " + steps);
        }
        this.envs = envs;
        this.steps = steps;
        this.e = envs.size();
        this.d = envs.observationSpace().size();
        this.a = envs.actionSpace().size();
        this.obs = envs.reset();
    }

    /** Steps recorded in the item under way (0 right after one was returned). */
    public int pending() {
        return t;
    }

    /** Environments stepped together: each {@link #step} takes this many environment steps. */
    public int envs() {
        return e;
    }

    /**
     * Takes one step of every environment with {@code policy}, recorded as taken with {@code version}.
     *
     * @return the finished item after its T-th step, else null
     */
    public Experience step(ActorCritic policy, long version) {
        if (item == null) {
            item = new Experience(steps, e, d, a, new float[steps * e * d], new float[steps * e * d],
                    new float[steps * e * a], new float[steps * e], new boolean[steps * e], new boolean[steps * e],
                    new float[steps * e], new long[steps * e], new float[steps * e]);
        }
        Acting acting = policy.act(obs);
        VectorEnvironment.Step s = envs.step(acting.actions());
        Experience x = item;
        for (int i = 0; i < e; i++) {
            int row = x.row(t, i);
            System.arraycopy(obs[i], 0, x.observations(), row * d, d);
            float[] next = s.done(i) ? s.finalObservations()[i] : s.observations()[i];
            System.arraycopy(next, 0, x.nextObservations(), row * d, d);
            System.arraycopy(acting.actions()[i].toFloats(), 0, x.actions(), row * a, a);
            x.rewards()[row] = (float) s.rewards()[i];
            x.terminated()[row] = s.terminated()[i];
            x.truncated()[row] = s.truncated()[i];
            x.behaviourLogProbs()[row] = acting.logProbs()[i];
            x.policyVersions()[row] = version;
            x.episodeReturns()[row] = s.done(i) ? (float) s.episodeReturns()[i] : 0f;
        }
        obs = s.observations();
        if (++t < steps) {
            return null;
        }
        t = 0;
        item = null;
        return x;
    }
}
