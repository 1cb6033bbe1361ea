package dev.tributary.rl.env;

import java.util.Arrays;
import java.util.List;

/**
 * Several copies of an environment stepped together, resetting each one as soon as its episode ends (the
 * final observation is kept apart, so that a truncated episode can still bootstrap from it). Episode
 * {@code k} of copy {@code i} is reset with seed {@code seed + i + k·n}, so a run is reproducible.
 *
 * <p>Call order: {@link #reset()}, then {@link #step} any number of times, then {@link #close()}.
 */
public final class VectorEnvironment implements AutoCloseable {
    private final List<Environment> envs;
    private final long seed;
    private final long[] episodes;
    private final double[] returns;
    private final int[] lengths;
    private boolean started;

    /**
     * What one step of every copy gave.
     *
     * @param observations      the next observation of each copy: the first of a new episode where one ended
     * @param rewards           the step's rewards
     * @param terminated        per copy, the episode reached a terminal state
     * @param truncated         per copy, the episode hit its time limit
     * @param finalObservations the last observation of an episode that ended at this step, else {@code null}
     * @param episodeReturns    the undiscounted return of an episode that ended at this step, else NaN
     * @param episodeLengths    the length of an episode that ended at this step, else 0
     */
    public record Step(float[][] observations, double[] rewards, boolean[] terminated, boolean[] truncated,
                       float[][] finalObservations, double[] episodeReturns, int[] episodeLengths) {

        /** Whether copy {@code i}'s episode ended at this step. */
        public boolean done(int i) {
            return terminated[i] || truncated[i];
        }
    }

    /** Steps the given environments (all with the same spaces) together; they are closed with this one. */
    public VectorEnvironment(List<Environment> envs, long seed) {
        if (envs.isEmpty()) {
            throw new IllegalArgumentException("a vector environment needs at least one environment");
        }
        for (Environment e : envs) {
            if (!e.observationSpace().equals(envs.getFirst().observationSpace())
                    || !e.actionSpace().equals(envs.getFirst().actionSpace())) {
                throw new IllegalArgumentException("environment " + e + " has other spaces than " + envs.getFirst());
            }
        }
        this.envs = List.copyOf(envs);
        this.seed = seed;
        this.episodes = new long[envs.size()];
        this.returns = new double[envs.size()];
        this.lengths = new int[envs.size()];
    }

    /** Number of copies. */
    public int size() {
        return envs.size();
    }

    public Space observationSpace() {
        return envs.getFirst().observationSpace();
    }

    public Space actionSpace() {
        return envs.getFirst().actionSpace();
    }

    /** Starts an episode in every copy and returns the first observations. */
    public float[][] reset() {
        float[][] obs = new float[envs.size()][];
        for (int i = 0; i < obs.length; i++) {
            episodes[i] = 0;
            obs[i] = resetCopy(i);
        }
        started = true;
        return obs;
    }

    /** Steps copy {@code i} with {@code actions[i]}, resetting the copies whose episodes ended. */
    public Step step(Action[] actions) {
        if (!started) {
            throw new IllegalStateException("vector environment: step before reset");
        }
        int n = envs.size();
        if (actions.length != n) {
            throw new IllegalArgumentException("actions: length " + actions.length + " != " + n);
        }
        float[][] obs = new float[n][];
        double[] rewards = new double[n];
        boolean[] terminated = new boolean[n];
        boolean[] truncated = new boolean[n];
        float[][] finals = new float[n][];
        double[] episodeReturns = new double[n];
        int[] episodeLengths = new int[n];
        Arrays.fill(episodeReturns, Double.NaN);
        for (int i = 0; i < n; i++) {
            StepResult r = envs.get(i).step(actions[i]);
            rewards[i] = r.reward();
            terminated[i] = r.terminated();
            truncated[i] = r.truncated();
            returns[i] += r.reward();
            lengths[i]++;
            if (r.done()) {
                finals[i] = r.observation();
                episodeReturns[i] = returns[i];
                episodeLengths[i] = lengths[i];
                episodes[i]++;
                obs[i] = resetCopy(i);
            } else {
                obs[i] = r.observation();
            }
        }
        return new Step(obs, rewards, terminated, truncated, finals, episodeReturns, episodeLengths);
    }

    @Override
    public void close() {
        for (Environment e : envs) {
            e.close();
        }
    }

    private float[] resetCopy(int i) {
        returns[i] = 0;
        lengths[i] = 0;
        return envs.get(i).reset(seed + i + episodes[i] * envs.size());
    }
}
