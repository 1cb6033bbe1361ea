package dev.tributary.store;

/**
 * Bytes of a damaged record that {@link LogSalvage} replaced, keeping every later record at its offset;
 * replay skips it. The original bytes were kept beside the log.
 *
 * @param bytes the record's size in the log
 */
public record Salvaged(long bytes) implements LogRecord {}
