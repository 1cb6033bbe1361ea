package dev.tributary.rl.ppo;

/**
 * One rollout of {@code steps × envs} transitions, stored step-major (row {@code t·envs + i} is copy i at step
 * t), with what PPO needs: per row the value of the next observation (the final observation's where an
 * episode was truncated), the log-probability under the policy that acted (μ) and under the learner's
 * policy when the update began (π_old; the same as μ when both are one process's).
 */
public final class Rollout {
    public final int steps;
    public final int envs;
    public final float[][] observations;
    public final float[][] actions;
    public final double[] behaviourLogProbs;
    public final double[] oldLogProbs;
    public final double[] values;
    public final double[] rewards;
    public final boolean[] terminated;
    public final boolean[] truncated;
    public final double[] nextValues;

    public Rollout(int steps, int envs) {
        if (steps < 1 || envs < 1) {
            throw new IllegalArgumentException("rollout: steps and envs must be >= 1: " + steps + ", " + envs);
        }
        this.steps = steps;
        this.envs = envs;
        int n = Math.multiplyExact(steps, envs);
        observations = new float[n][];
        actions = new float[n][];
        behaviourLogProbs = new double[n];
        oldLogProbs = new double[n];
        values = new double[n];
        rewards = new double[n];
        terminated = new boolean[n];
        truncated = new boolean[n];
        nextValues = new double[n];
    }

    public int size() {
        return steps * envs;
    }

    /** The row of copy {@code i} at step {@code t}. */
    public int row(int t, int i) {
        return t * envs + i;
    }
}
