package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * How many updates are in training at once, estimated from the updates themselves (no clock, no worker
 * ids), so that asynchronous strategies can size their steps to the population they actually serve.
 *
 * <p>By Little's law the mean, over arrivals, of the number of updates that arrive while one update is
 * being trained equals the mean number in training. An update based on version b arrived after the
 * updates merged since b was published, less those that arrived between b's publish and the worker's
 * pull; the pull happened while b was current, so half of that window's arrivals are subtracted:
 * {@code n = U_now − (U(b) + U(b+1)) / 2 + 1}, with U(v) the updates merged when v was published and
 * U(b+1) = U_now while b is current. The estimate is the running mean of n over the last
 * {@link #HORIZON} updates (an exact mean before that).
 *
 * <p>A deterministic function of the updates merged, in order: it changes only at publishes (the strategy
 * feeds it the merged updates then), and its state is exported with the strategy's, so that a restart
 * that replays the log reaches the same estimate bit for bit.
 */
final class ConcurrencyEstimate {
    /** Updates the running mean spans once warmed up. */
    static final int HORIZON = 200;
    /** Versions whose merge counts are kept; staler bases count from the oldest kept. */
    static final int WINDOW = 1024;
    private static final String PREFIX = "concurrency/";

    private long merged;
    private long firstVersion;
    private final List<Long> mergedAt = new ArrayList<>(List.of(0L));
    private double mean = Double.NaN;
    private long samples;

    /**
     * Takes in the updates of one publish: their base versions, in arrival order, all judged at
     * {@code version}, the version before the publish.
     */
    void published(List<Update> updates, long version) {
        for (int i = 0; i < updates.size(); i++) {
            long base = updates.get(i).baseVersion();
            long now = merged + i;
            double atBase = countAt(base);
            double atNext = base < version ? countAt(base + 1) : now;
            double n = now - (atBase + atNext) / 2 + 1;
            samples++;
            mean = samples == 1 ? n : mean + (n - mean) / Math.min(samples, HORIZON);
        }
        merged += updates.size();
        mergedAt.add(merged);
        if (mergedAt.size() > WINDOW) {
            mergedAt.removeFirst();
            firstVersion++;
        }
    }

    /** Updates in training at once, NaN before any update was merged. */
    double value() {
        return mean;
    }

    private long countAt(long version) {
        long i = Math.max(0, Math.min(version - firstVersion, mergedAt.size() - 1));
        return mergedAt.get((int) i);
    }

    void write(TensorMap state) {
        StringBuilder counts = new StringBuilder();
        for (long c : mergedAt) {
            counts.append(counts.isEmpty() ? "" : ",").append(c);
        }
        state.putMetadata(PREFIX + "merged", Long.toString(merged))
                .putMetadata(PREFIX + "first_version", Long.toString(firstVersion))
                .putMetadata(PREFIX + "merged_at", counts.toString())
                .putMetadata(PREFIX + "mean", Double.toString(mean))
                .putMetadata(PREFIX + "samples", Long.toString(samples));
    }

    /**
     * Reads what {@link #write} wrote at {@code version}, checking all before changing anything; a state
     * without it (written before the estimate existed) starts afresh at {@code version}.
     */
    void read(TensorMap state, long version) {
        Map<String, String> meta = state.metadata();
        if (meta.get(PREFIX + "merged") == null) {
            set(0, version, List.of(0L), Double.NaN, 0);
            return;
        }
        List<Long> counts = new ArrayList<>();
        try {
            for (String c : meta.get(PREFIX + "merged_at").split(",")) {
                counts.add(Long.parseLong(c));
            }
            long first = Long.parseLong(meta.get(PREFIX + "first_version"));
            if (first + counts.size() - 1 != version) {
                throw new IllegalArgumentException("it ends at version " + (first + counts.size() - 1)
                        + ", the model is at " + version);
            }
            set(Long.parseLong(meta.get(PREFIX + "merged")), first, counts, Double.parseDouble(meta.get(PREFIX + "mean")),
                    Long.parseLong(meta.get(PREFIX + "samples")));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("strategy state: concurrency estimate: " + e.getMessage(), e);
        }
    }

    private void set(long merged, long firstVersion, List<Long> counts, double mean, long samples) {
        this.merged = merged;
        this.firstVersion = firstVersion;
        mergedAt.clear();
        mergedAt.addAll(counts);
        this.mean = mean;
        this.samples = samples;
    }
}
