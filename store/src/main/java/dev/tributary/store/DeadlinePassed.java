package dev.tributary.store;

/**
 * The deadline of the round that publishes {@code version + 1} passed: from here on the round closes with
 * {@code min_workers} updates (at once, when it already holds them).
 *
 * @param version the model version the round was trained from
 */
public record DeadlinePassed(long version) implements LogRecord {
    public DeadlinePassed {
        if (version < 0) {
            throw new IllegalArgumentException("version < 0: " + version);
        }
    }
}
