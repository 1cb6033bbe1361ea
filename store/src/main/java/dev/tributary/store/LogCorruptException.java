package dev.tributary.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The update log holds a record that is damaged, not merely cut short: acknowledged data may be at stake,
 * so nothing starts and nothing is deleted. {@code tributary log --state DIR --salvage} can replace the
 * damaged bytes and says exactly what that drops.
 */
public final class LogCorruptException extends IOException {
    private final Path file;
    private final long offset;
    private final long record;

    public LogCorruptException(Path file, long offset, long record, String reason) {
        super(file + ": record " + record + " at offset " + offset + " is corrupt (" + reason
                + "); refusing to go on: nothing was changed (tributary log --state " + parent(file)
                + " --salvage replaces it and lists what that drops)");
        this.file = file;
        this.offset = offset;
        this.record = record;
    }

    private static Path parent(Path file) {
        Path p = file.toAbsolutePath().getParent();
        return p == null ? file : p;
    }

    public Path file() {
        return file;
    }

    /** Byte offset of the damaged record in the file. */
    public long offset() {
        return offset;
    }

    /** Index of the damaged record, counting from 0. */
    public long record() {
        return record;
    }
}
