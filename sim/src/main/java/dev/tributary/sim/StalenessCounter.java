package dev.tributary.sim;

import java.util.Arrays;

/** Counts accepted updates by staleness (a histogram: staleness is a small whole number). */
final class StalenessCounter {
    private long[] counts = new long[16];
    private long total;
    private double sum;
    private long max;

    void add(long tau) {
        if (tau < 0) {
            throw new IllegalArgumentException("staleness < 0: " + tau);
        }
        if (tau >= counts.length) {
            counts = Arrays.copyOf(counts, (int) Math.max(counts.length * 2L, tau + 1));
        }
        counts[(int) tau]++;
        total++;
        sum += tau;
        max = Math.max(max, tau);
    }

    long total() {
        return total;
    }

    /** Mean, nearest-rank p50 and p99, and max; zeros when nothing was counted. */
    SimReport.Staleness summary() {
        if (total == 0) {
            return new SimReport.Staleness(0, 0, 0, 0);
        }
        return new SimReport.Staleness(sum / total, percentile(0.50), percentile(0.99), max);
    }

    /** The smallest τ with at least ⌈q·n⌉ updates at or below it. */
    private long percentile(double q) {
        long rank = Math.max(1, (long) Math.ceil(q * total));
        long seen = 0;
        for (int tau = 0; tau < counts.length; tau++) {
            seen += counts[tau];
            if (seen >= rank) {
                return tau;
            }
        }
        return max;
    }
}
