package dev.tributary.replay;

/**
 * An insert the table did not take, with the reason in one line: the rate limiter holds inserts back
 * (sampling is behind), or the table is full and evicts nothing, or the waiting thread was interrupted.
 * Nothing was written; the caller may retry the same id later.
 */
public final class InsertRefusedException extends RuntimeException {
    public InsertRefusedException(String reason) {
        super(reason, null, false, false);
    }
}
