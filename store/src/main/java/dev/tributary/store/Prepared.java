package dev.tributary.store;

/**
 * A log record encoded ahead of its append, so that a record the log cannot hold is refused before
 * anything acts on it. An accepted update's version is set once the strategy has decided.
 */
public final class Prepared {
    final LogCodec.Encoded encoded;

    private Prepared(LogCodec.Encoded encoded) {
        this.encoded = encoded;
    }

    /**
     * Encodes {@code record}.
     *
     * @throws IllegalArgumentException naming the field when it does not fit the log's layout
     */
    public static Prepared of(LogRecord record) {
        return new Prepared(LogCodec.encode(record));
    }

    /** Sets the model version current right after the strategy took the update in. */
    public void version(long v) {
        encoded.version(v);
    }

    /** The record's size in the log, in bytes. */
    public long size() {
        return encoded.size();
    }
}
