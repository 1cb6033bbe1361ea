package dev.tributary.worker.client;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongSupplier;

/**
 * What a worker did so far, safe to read from any thread (a shutdown hook prints {@link #summary} while the
 * loop runs): a line per answered push ({@link #line}) and the totals (updates pushed, accepted, refused by
 * reason, examples, bytes up and down, mean local loss, elapsed time).
 */
public final class Progress {
    /**
     * One answered push.
     *
     * @param number      1 for the worker's first answered push
     * @param baseVersion the version the update was trained from
     * @param loss        the local training loss (NaN when the trainer reports none)
     * @param examples    training examples the update covers
     * @param bytes       bytes pushed
     * @param version     the version the coordinator was at once it took the update in; -1 when refused
     * @param staleness   versions between the base and the coordinator's at acceptance
     * @param duplicate   the coordinator had this update already (a retry after a lost acknowledgment)
     * @param refusal     why it was refused (the coordinator's reason code, then its message); null when accepted
     * @param took        from the start of training to the answer
     */
    public record Pushed(int number, long baseVersion, double loss, long examples, long bytes, long version, long staleness,
            boolean duplicate, String refusal, Duration took) {}

    /** The totals; {@code refusedByReason} maps a reason code to its count. */
    public record Totals(int pushed, int accepted, int duplicates, Map<String, Integer> refusedByReason, int retries,
            long examples, long bytesUp, long bytesDown, double meanLoss, Duration elapsed) {
        public int refused() {
            return refusedByReason.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private final LongSupplier nanos;
    private final long start;
    private int pushed;
    private int accepted;
    private int duplicates;
    private final Map<String, Integer> refused = new TreeMap<>();
    private int retries;
    private long examples;
    private long bytesUp;
    private long bytesDown;
    private double lossSum;
    private int losses;

    public Progress() {
        this(System::nanoTime);
    }

    /** With the clock elapsed time is read from (tests). */
    Progress(LongSupplier nanos) {
        this.nanos = nanos;
        this.start = nanos.getAsLong();
    }

    /** Counts an answered push and returns it numbered. */
    synchronized Pushed pushed(long baseVersion, double loss, long examples, long bytes, long version, long staleness,
            boolean duplicate, String refusal, Duration took) {
        pushed++;
        bytesUp += bytes;
        if (refusal == null) {
            accepted++;
            duplicates += duplicate ? 1 : 0;
            this.examples += examples;
            if (Double.isFinite(loss)) {
                lossSum += loss;
                losses++;
            }
        } else {
            refused.merge(reasonOf(refusal), 1, Integer::sum);
        }
        return new Pushed(pushed, baseVersion, loss, examples, bytes, version, staleness, duplicate, refusal, took);
    }

    /** Counts the bytes of a pulled model. */
    synchronized void pulled(long bytes) {
        bytesDown += bytes;
    }

    /** Counts a push that will be tried again (the coordinator was away or busy). */
    synchronized void retried() {
        retries++;
    }

    public synchronized Totals totals() {
        return new Totals(pushed, accepted, duplicates, Map.copyOf(refused), retries, examples, bytesUp, bytesDown,
                losses == 0 ? Double.NaN : lossSum / losses, Duration.ofNanos(nanos.getAsLong() - start));
    }

    /** The reason code a refusal starts with ({@code staleness} of {@code "staleness: …"}). */
    static String reasonOf(String refusal) {
        int colon = refusal.indexOf(':');
        return colon < 0 ? refusal : refusal.substring(0, colon);
    }

    /**
     * One line per answered push, e.g. {@code update 3: from version 5, loss 0.4123, 320 examples, 12.3 KiB
     * pushed, accepted at version 6 (staleness 1), 1.25 s}, or {@code … refused (staleness: staleness 9 > max 8), …}.
     */
    public static String line(Pushed p) {
        String answer = p.refusal() != null ? "refused (" + p.refusal() + ")"
                : (p.duplicate() ? "already accepted" : "accepted") + " at version " + p.version() + " (staleness " + p.staleness() + ")";
        return String.format(Locale.ROOT, "update %d: from version %d, loss %s, %d examples, %s pushed, %s, %.2f s",
                p.number(), p.baseVersion(), Double.isFinite(p.loss()) ? String.format(Locale.ROOT, "%.4f", p.loss()) : "n/a",
                p.examples(), bytes(p.bytes()), answer, p.took().toNanos() / 1e9);
    }

    /** The totals in a few lines, for the end of a run (or Ctrl-C). */
    public String summary() {
        Totals t = totals();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%d updates pushed: %d accepted (%d duplicates), %d refused", t.pushed(), t.accepted(),
                t.duplicates(), t.refused()));
        if (!t.refusedByReason().isEmpty()) {
            java.util.StringJoiner reasons = new java.util.StringJoiner(", ", " (", ")");
            new TreeMap<>(t.refusedByReason()).forEach((r, n) -> reasons.add(r + " " + n));
            b.append(reasons);
        }
        b.append(String.format(Locale.ROOT, ", %d retries%n", t.retries()));
        b.append(String.format(Locale.ROOT, "%d examples, %s up, %s down, mean loss %s, %.1f s", t.examples(), bytes(t.bytesUp()),
                bytes(t.bytesDown()), Double.isFinite(t.meanLoss()) ? String.format(Locale.ROOT, "%.4f", t.meanLoss()) : "n/a",
                t.elapsed().toNanos() / 1e9));
        return b.toString();
    }

    /** Bytes in binary units with three significant digits: {@code 512 B}, {@code 12.3 KiB}, {@code 1.50 MiB}. */
    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.0f %s" : v >= 10 ? "%.1f %s" : "%.2f %s", v, units[u]);
    }
}
