package dev.tributary.rl.learner;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayDeque;

/**
 * What the learner has taken in: environment steps, finished episodes and the returns of the last
 * {@value #WINDOW} of them, over accepted items. Thread-safe; checkpointed with the learner's state.
 */
final class Progress {
    /** Finished episodes the mean return is taken over. */
    static final int WINDOW = 100;
    private static final String RETURNS = "progress/returns";

    private final ArrayDeque<Double> returns = new ArrayDeque<>();
    private long envSteps;
    private long episodes;

    /** Counts an accepted item of {@code steps} steps whose finished episodes had {@code episodeReturns}. */
    synchronized void add(long steps, double[] episodeReturns) {
        envSteps += steps;
        for (double r : episodeReturns) {
            episodes++;
            returns.addLast(r);
            if (returns.size() > WINDOW) {
                returns.removeFirst();
            }
        }
    }

    synchronized long envSteps() {
        return envSteps;
    }

    synchronized long episodes() {
        return episodes;
    }

    /** Mean of the last {@value #WINDOW} episode returns; NaN before the first. */
    synchronized double meanReturn() {
        return returns.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** Episodes in the window (at most {@value #WINDOW}). */
    synchronized int windowSize() {
        return returns.size();
    }

    synchronized void saveTo(TensorMap state) {
        float[] r = new float[returns.size()];
        int i = 0;
        for (double v : returns) {
            r[i++] = (float) v;
        }
        state.put(RETURNS, Tensor.ofFloats(new long[] {r.length}, r));
        state.putMetadata("env_steps", Long.toString(envSteps));
        state.putMetadata("episodes", Long.toString(episodes));
    }

    synchronized void restore(TensorMap state) {
        envSteps = Long.parseLong(state.metadata().getOrDefault("env_steps", "0"));
        episodes = Long.parseLong(state.metadata().getOrDefault("episodes", "0"));
        returns.clear();
        Tensor t = state.get(RETURNS);
        if (t != null) {
            for (float v : t.toFloatArray()) {
                returns.addLast((double) v);
            }
        }
    }
}
