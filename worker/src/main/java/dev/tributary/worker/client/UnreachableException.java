package dev.tributary.worker.client;

import java.io.IOException;
import java.time.Duration;
import java.util.Locale;

/** The coordinator did not answer for longer than the worker was told to wait ({@link Worker#giveUpAfter}). */
public final class UnreachableException extends IOException {
    private final String target;

    public UnreachableException(String target, Duration waited, String lastStatus) {
        super(String.format(Locale.ROOT, "coordinator %s: no answer for %.1f s (%s); gave up", target, waited.toNanos() / 1e9,
                lastStatus));
        this.target = target;
    }

    /** The address that did not answer. */
    public String target() {
        return target;
    }
}
