package dev.tributary.replay;

/** What a table does with an insert when it is full: at {@link TableConfig#maxSize} items or its memory budget. */
public enum Remover {
    /** Evicts the oldest items until the new one fits; each eviction is logged, so replay repeats it. */
    FIFO,
    /**
     * Evicts nothing: the insert waits for room up to the limiter's insert timeout, then is refused with
     * the reason. For queues, whose items must be consumed, not dropped.
     */
    NONE
}
