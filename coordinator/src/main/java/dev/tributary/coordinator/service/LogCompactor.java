package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.LogCompaction;
import io.micrometer.core.instrument.Counter;
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
    private final LogCompaction compaction;
    private final Counter compactions;
    private final Counter bytes;
    private final java.util.function.BooleanSupplier stopping;

    /** @param stopping whether the coordinator is closing: the steps left wait for the next start */
    LogCompactor(Path stateDir, Checkpoints checkpoints, long minBytes, CoordinatorMetrics metrics, Consumer<String> warn,
            java.util.function.BooleanSupplier stopping) {
        this.stopping = stopping;
        this.compaction = new LogCompaction(dev.tributary.store.StateDirectory.log(stateDir), checkpoints, minBytes, warn,
                "log compaction: the file system under " + stateDir + " cannot punch holes, so the compacted deltas stay on"
                        + " disk (ids are compacted all the same)", "log compaction failed, the log keeps its deltas");
        this.compactions = metrics.counter("tributary.log.compactions", null, "compaction steps of the update log behind the checkpoints");
        this.bytes = metrics.counter("tributary.log.compacted", "bytes", "update log bytes compacted (deltas no checkpoint needs)");
    }

    @Override
    public void run() {
        CompactedLog.Progress p = compaction.run(stopping);
        compactions.increment(p.steps());
        bytes.increment(p.bytes());
    }
}
