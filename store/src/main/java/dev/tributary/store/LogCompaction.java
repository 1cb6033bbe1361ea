package dev.tributary.store;

import java.io.IOException;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * An owner's compaction of its log behind its checkpoints (a coordinator's update log, an experience table's
 * log): {@link CompactedLog#compactAll} up to the smallest log position among the checkpoints on disk, so
 * that every one of them can still be recovered from. A failure is reported and leaves the log as it was (it
 * then only keeps more on disk); a file system that cannot punch holes is reported once.
 */
public final class LogCompaction {
    private final Path log;
    private final Checkpoints checkpoints;
    private final long minBytes;
    private final Consumer<String> warn;
    private final String noHoles;
    private final String failed;
    private boolean toldNoHoles;

    /**
     * @param minBytes least log bytes a compaction starts for
     * @param noHoles  the line said once when blocks could not be given back
     * @param failed   the start of the line said when a compaction fails (its reason follows)
     */
    public LogCompaction(Path log, Checkpoints checkpoints, long minBytes, Consumer<String> warn, String noHoles,
            String failed) {
        this.log = log;
        this.checkpoints = checkpoints;
        this.minBytes = minBytes;
        this.warn = warn;
        this.noHoles = noHoles;
        this.failed = failed;
    }

    /** Compacts what can go, checking {@code stopping} before each step; what it did (nothing when it failed). */
    public synchronized CompactedLog.Progress run(BooleanSupplier stopping) {
        try {
            CompactedLog.Progress p = CompactedLog.compactAll(log, checkpoints.oldestLogPosition(), minBytes, stopping);
            if (p.steps() > 0 && !p.punched() && !toldNoHoles) {
                toldNoHoles = true;
                warn.accept(noHoles);
            }
            return p;
        } catch (IOException | RuntimeException e) {
            warn.accept(failed + ": " + e.getMessage());
            return new CompactedLog.Progress(0, 0, true);
        }
    }
}
