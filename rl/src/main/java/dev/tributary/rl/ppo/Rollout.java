package dev.tributary.rl.ppo;

/**
 * One rollout of {@code steps × envs} transitions, stored step-major (row {@code t·envs + i} is copy i at step
 * t), with what GAE needs: per row the value of the next observation (the final observation's where an
 * episode was truncated).
 */
final class Rollout {
    final int steps;
    final int envs;
    final float[][] observations;
    final float[][] actions;
    final double[] behaviourLogProbs;
    final double[] values;
    final double[] rewards;
    final boolean[] terminated;
    final boolean[] truncated;
    final double[] nextValues;

    Rollout(int steps, int envs) {
        this.steps = steps;
        this.envs = envs;
        int n = steps * envs;
        observations = new float[n][];
        actions = new float[n][];
        behaviourLogProbs = new double[n];
        values = new double[n];
        rewards = new double[n];
        terminated = new boolean[n];
        truncated = new boolean[n];
        nextValues = new double[n];
    }

    int size() {
        return steps * envs;
    }

    /** The rows of copy {@code i}, in time order. */
    int row(int t, int i) {
        return t * envs + i;
    }
}
