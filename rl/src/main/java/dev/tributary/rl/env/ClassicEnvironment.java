package dev.tributary.rl.env;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * What the classic-control environments share: a physical state in doubles, the episode clock with
 * Gymnasium's time limit ({@code truncated} once {@code elapsed >= maxEpisodeSteps}), and the checks on the
 * call order. Subclasses hold the physics.
 */
abstract sealed class ClassicEnvironment implements Environment permits CartPole, Acrobot, Pendulum {
    private final String id;
    private final int maxEpisodeSteps;
    private final Space observations;
    private final Space actions;
    private final int stateSize;
    /** The physical state, in Gymnasium's order and precision. */
    protected double[] state;
    private int elapsed;
    private boolean ended = true;

    ClassicEnvironment(String id, int maxEpisodeSteps, Space observations, Space actions, int stateSize) {
        if (maxEpisodeSteps <= 0) {
            throw new IllegalArgumentException(id + ": maxEpisodeSteps <= 0: " + maxEpisodeSteps);
        }
        this.id = id;
        this.maxEpisodeSteps = maxEpisodeSteps;
        this.observations = observations;
        this.actions = actions;
        this.stateSize = stateSize;
    }

    @Override
    public final Space observationSpace() {
        return observations;
    }

    @Override
    public final Space actionSpace() {
        return actions;
    }

    /** A start state drawn the way Gymnasium draws it (same distribution, not the same generator). */
    abstract double[] sampleStart(SplittableRandom rng);

    /** Moves {@link #state} one step under {@code action} (already checked) and returns the reward. */
    abstract double advance(Action action);

    /** Whether {@link #state} is terminal. */
    abstract boolean terminal();

    /** The observation of {@link #state}. */
    abstract float[] observation();

    @Override
    public final float[] reset(long seed) {
        return resetTo(sampleStart(new SplittableRandom(seed)));
    }

    /**
     * Starts an episode from the given physical state (Gymnasium's {@code env.unwrapped.state}); for tests
     * that replay recorded trajectories, and for starting from a chosen configuration.
     */
    final float[] resetTo(double[] start) {
        if (start.length != stateSize) {
            throw new IllegalArgumentException(id + ": state of length " + start.length + " != " + stateSize);
        }
        for (int i = 0; i < start.length; i++) {
            if (!Double.isFinite(start[i])) {
                throw new IllegalArgumentException(id + ": state element " + i + " is not finite: " + start[i]);
            }
        }
        state = start.clone();
        elapsed = 0;
        ended = false;
        return observation();
    }

    /** A copy of the physical state. */
    final double[] state() {
        return state.clone();
    }

    @Override
    public final StepResult step(Action action) {
        if (state == null) {
            throw new IllegalStateException(id + ": step before reset");
        }
        if (ended) {
            throw new IllegalStateException(id + ": step after the episode ended: call reset");
        }
        actionSpace().check(action);
        double reward = advance(action);
        boolean terminated = terminal();
        elapsed++;
        boolean truncated = elapsed >= maxEpisodeSteps;
        ended = terminated || truncated;
        return new StepResult(observation(), reward, terminated, truncated);
    }

    /** Steps after which an episode is truncated. */
    public final int maxEpisodeSteps() {
        return maxEpisodeSteps;
    }

    /** Steps taken in the current episode. */
    public final int elapsedSteps() {
        return elapsed;
    }

    @Override
    public String toString() {
        return id + (state == null ? "" : Arrays.toString(state));
    }

    /** A uniform draw in {@code [low, high)}, as numpy's {@code uniform} computes it. */
    static double uniform(SplittableRandom rng, double low, double high) {
        return low + (high - low) * rng.nextDouble();
    }

    /** {@code n} uniform draws in {@code [−bound, bound)}. */
    static double[] uniform(SplittableRandom rng, int n, double bound) {
        double[] s = new double[n];
        for (int i = 0; i < n; i++) {
            s[i] = uniform(rng, -bound, bound);
        }
        return s;
    }
}
