package dev.tributary.replay;

/**
 * Which items a table's {@link Table#sample} hands out. Random draws are numbered by the table's count of
 * samples and derived from the seed and that number alone, so a table gives the same samples for the same
 * seed and the same history, across restarts too.
 */
public sealed interface Sampler permits Sampler.Fifo, Sampler.Uniform, Sampler.Prioritized {
    /** The oldest items first, each at most once per call; an on-policy learner removes what it consumed. */
    record Fifo() implements Sampler {}

    /** Every item equally likely, drawn with replacement. */
    record Uniform(long seed) implements Sampler {}

    /**
     * Item i drawn with probability {@code priority_i^exponent / Σ_j priority_j^exponent} (with
     * replacement), from a sum tree: O(log n) per draw and per change. When every weight is zero the draw is
     * uniform.
     */
    record Prioritized(double exponent, long seed) implements Sampler {
        public Prioritized {
            if (!(exponent >= 0) || !Double.isFinite(exponent)) {
                throw new IllegalArgumentException("exponent " + exponent + ": must be finite and >= 0");
            }
        }
    }

    static Sampler fifo() {
        return new Fifo();
    }

    static Sampler uniform(long seed) {
        return new Uniform(seed);
    }

    static Sampler prioritized(double exponent, long seed) {
        return new Prioritized(exponent, seed);
    }
}
