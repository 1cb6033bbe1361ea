package dev.tributary.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal so logs and
 * pipes stay clean. Redraws at most ten times a second.
 */
final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;
    private final PrintStream err;
    private final String label;
    private final boolean enabled;
    private final long startNanos = System.nanoTime();
    private long lastDraw;
    private boolean drawn;

    ProgressBar(String label) {
        this(label, System.err, isTerminal());
    }

    ProgressBar(String label, PrintStream err, boolean enabled) {
        this.label = label;
        this.err = err;
        this.enabled = enabled;
    }

    static boolean isTerminal() {
        var console = System.console();
        return console != null && console.isTerminal() && System.getenv("TRIBUTARY_NO_PROGRESS") == null;
    }

    /** Shows {@code done} of {@code total} with a short note (e.g. the tensor at hand). */
    void update(long done, long total, String note) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (done < total && now - lastDraw < 100_000_000L && drawn) {
            return;
        }
        lastDraw = now;
        drawn = true;
        double frac = total <= 0 ? 1 : Math.min(1, (double) done / total);
        int filled = (int) Math.round(frac * WIDTH);
        double elapsed = (now - startNanos) / 1e9;
        String n = note == null ? "" : note;
        if (n.length() > 40) {
            n = "…" + n.substring(n.length() - 39);
        }
        err.print(String.format(Locale.ROOT, "\r%s [%s%s] %3.0f%% %d/%d %s %s\u001b[K",
                label, "#".repeat(filled), ".".repeat(WIDTH - filled), frac * 100, done, total,
                Human.seconds(elapsed), n));
        err.flush();
    }

    @Override
    public void close() {
        if (enabled && drawn) {
            err.println();
            err.flush();
        }
    }
}
