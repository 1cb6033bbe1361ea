package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Compacts the update log behind the checkpoints after each checkpoint ({@link CompactedLog}): up to the
 * smallest log position among the checkpoints on disk, so that every one of them can still be recovered
 * from, once at least {@code minBytes} can go; in steps of {@link CompactedLog#STEP_BYTES}, so that a close
 * waits for one step at most. A failure is reported and the log is left as it was: it then
 * only keeps more on disk.
 */
final class LogCompactor implements Runnable {
    private final Path stateDir;
    private final Checkpoints checkpoints;
    private final long minBytes;
    private final Consumer<String> warn;
    private final Counter compactions;
    private final Counter bytes;
    private final java.util.function.BooleanSupplier stopping;
    private boolean toldNoHoles;

    /** @param stopping whether the coordinator is closing: the steps left wait for the next start */
    LogCompactor(Path stateDir, Checkpoints checkpoints, long minBytes, CoordinatorMetrics metrics, Consumer<String> warn,
            java.util.function.BooleanSupplier stopping) {
        this.stopping = stopping;
        this.stateDir = stateDir;
        this.checkpoints = checkpoints;
        this.minBytes = minBytes;
        this.warn = warn;
        this.compactions = metrics.counter("tributary.log.compactions", null, "compaction steps of the update log behind the checkpoints");
        this.bytes = metrics.counter("tributary.log.compacted", "bytes", "update log bytes compacted (deltas no checkpoint needs)");
    }

    @Override
    public void run() {
        try {
            long upTo = checkpoints.oldestLogPosition();
            CompactedLog.Progress p = CompactedLog.compactAll(dev.tributary.store.StateDirectory.log(stateDir), upTo, minBytes,
                    stopping);
            compactions.increment(p.steps());
            bytes.increment(p.bytes());
            if (p.steps() > 0 && !p.punched() && !toldNoHoles) {
                toldNoHoles = true;
                warn.accept("log compaction: the file system under " + stateDir + " cannot punch holes, so the compacted"
                        + " deltas stay on disk (ids are compacted all the same)");
            }
        } catch (IOException | RuntimeException e) {
            warn.accept("log compaction failed, the log keeps its deltas: " + e.getMessage());
        }
    }
}
