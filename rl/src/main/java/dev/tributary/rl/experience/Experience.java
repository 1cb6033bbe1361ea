package dev.tributary.rl.experience;

/**
 * One experience item: {@code steps} (T) consecutive steps of {@code envs} (E) environments stepped
 * together, time-major (row {@code t·E + e} is step t of environment e), with what an off-policy learner
 * needs per step. Arrays are owned by the record (not copied): build one, hand it over, do not mutate it.
 *
 * @param steps             T, at least 1
 * @param envs              E, at least 1
 * @param observationSize   values per observation
 * @param actionSize        values per action: 1 for a discrete space (the index), the box size else
 * @param observations      {@code [T·E·observationSize]}: the observation each action was taken in
 * @param nextObservations  {@code [T·E·observationSize]}: the observation the step produced; where the
 *                          episode ended, its last one (not the first of the next episode)
 * @param actions           {@code [T·E·actionSize]}
 * @param rewards           {@code [T·E]}
 * @param terminated        {@code [T·E]}: the episode reached a terminal state at this step
 * @param truncated         {@code [T·E]}: the episode was cut by a time limit at this step
 * @param behaviourLogProbs {@code [T·E]}: log μ(a|s) under the policy that acted
 * @param policyVersions    {@code [T·E]}: the policy version each step was taken with
 * @param episodeReturns    {@code [T·E]}: the return of the episode that ended at this step, 0 elsewhere
 */
public record Experience(int steps, int envs, int observationSize, int actionSize, float[] observations,
                         float[] nextObservations, float[] actions, float[] rewards, boolean[] terminated,
                         boolean[] truncated, float[] behaviourLogProbs, long[] policyVersions,
                         float[] episodeReturns) {

    public Experience {
        if (steps < 1 || envs < 1 || observationSize < 1 || actionSize < 1) {
            throw new IllegalArgumentException("experience: steps, envs, observationSize and actionSize must be"
                    + " >= 1: " + steps + ", " + envs + ", " + observationSize + ", " + actionSize);
        }
        int n = Math.multiplyExact(steps, envs);
        length("observations", observations.length, Math.multiplyExact(n, observationSize));
        length("nextObservations", nextObservations.length, Math.multiplyExact(n, observationSize));
        length("actions", actions.length, Math.multiplyExact(n, actionSize));
        length("rewards", rewards.length, n);
        length("terminated", terminated.length, n);
        length("truncated", truncated.length, n);
        length("behaviourLogProbs", behaviourLogProbs.length, n);
        length("policyVersions", policyVersions.length, n);
        length("episodeReturns", episodeReturns.length, n);
    }

    /** Rows: T·E steps. */
    public int size() {
        return steps * envs;
    }

    /** The row of step {@code t} of environment {@code e}. */
    public int row(int t, int e) {
        return t * envs + e;
    }

    /** Whether the episode ended at row {@code row}. */
    public boolean done(int row) {
        return terminated[row] || truncated[row];
    }

    /** The oldest policy version any step was taken with. */
    public long minPolicyVersion() {
        long m = Long.MAX_VALUE;
        for (long v : policyVersions) {
            m = Math.min(m, v);
        }
        return m;
    }

    /** The newest policy version any step was taken with. */
    public long maxPolicyVersion() {
        long m = Long.MIN_VALUE;
        for (long v : policyVersions) {
            m = Math.max(m, v);
        }
        return m;
    }

    /** Episodes that ended in this item. */
    public int episodes() {
        int n = 0;
        for (int i = 0; i < size(); i++) {
            n += done(i) ? 1 : 0;
        }
        return n;
    }

    private static void length(String what, int actual, int expected) {
        if (actual != expected) {
            throw new IllegalArgumentException("experience " + what + ": length " + actual + " != " + expected);
        }
    }
}
