package dev.tributary.coordinator.service;

import dev.tributary.coordinator.model.ModelImage;
import dev.tributary.coordinator.store.Checkpoints;
import dev.tributary.coordinator.store.LogScan;
import dev.tributary.coordinator.strategy.Decision;
import dev.tributary.coordinator.strategy.Published;
import dev.tributary.coordinator.strategy.Refused;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Brings a strategy back to where the last run left it: the newest valid checkpoint, then every log
 * record after its log position replayed through the strategy in order. The ids of all accepted
 * updates (before the checkpoint too) are collected so that a repeated push is acknowledged, not
 * applied again. A torn last record is left out (it was never acknowledged) and cut off when the log is
 * opened for appending.
 */
final class Recovery {
    private Recovery() {}

    /** The recovered state the sequencer starts from. */
    record Recovered(Strategy strategy, Map<String, CompletableFuture<Sequencer.Ack>> acks, long accepted,
            long acceptedAtPublish, long publishEnd, int publishesSinceCheckpoint, ModelImage image,
            LogScan.Result scan) {}

    static Recovered recover(Strategy strategy, Checkpoints checkpoints, Path logFile, Consumer<String> warn) throws IOException {
        Optional<Checkpoints.Loaded> ck = checkpoints.newestValid(warn);
        long from = 0;
        if (ck.isPresent()) {
            Checkpoints.Loaded c = ck.get();
            if (!c.strategy().equals(strategy.name())) {
                throw new IllegalStateException("state " + c.file().getParent() + " holds a " + c.strategy()
                        + " run; refusing to continue it with " + strategy.name());
            }
            strategy.restoreState(c.model(), c.version(), c.state());
            from = c.logPosition();
        }
        long checkpointPosition = from;
        Map<String, CompletableFuture<Sequencer.Ack>> acks = new HashMap<>();
        long[] counts = new long[5]; // accepted, acceptedAtPublish, publishEnd, publishes since checkpoint, before it
        counts[2] = from;
        LogScan.Result scan = LogScan.scan(logFile, from, (start, end, rec) -> {
            counts[0]++;
            acks.put(rec.updateId(), CompletableFuture.completedFuture(
                    new Sequencer.Ack(rec.updateId(), false, rec.version(), rec.staleness())));
            if (end <= checkpointPosition) {
                counts[1] = counts[0];
                counts[4] = counts[0];
                return;
            }
            MemorySegment copy = Arena.ofAuto().allocate(rec.delta().byteSize(), 64);
            copy.copyFrom(rec.delta());
            TensorMap delta;
            try {
                delta = ModelImage.tensors(copy, "delta");
            } catch (InvalidCheckpointException e) {
                warn.accept("replay: update " + rec.updateId() + " has a malformed delta: " + e.problem());
                return;
            }
            Decision d = strategy.onUpdate(new Update(rec.updateId(), rec.baseVersion(), rec.examples(),
                    rec.localSteps(), delta, rec.metrics()));
            if (d instanceof Refused r) {
                warn.accept("replay: update " + rec.updateId() + " refused: " + r.reason());
            } else if (d instanceof Published) {
                counts[1] = counts[0];
                counts[2] = end;
                counts[3]++;
            }
        });
        if (scan.validEnd() < checkpointPosition) {
            throw new IllegalStateException("log " + logFile + " ends at " + scan.validEnd() + " (" + scan.tornReason()
                    + ") before the checkpoint's log position " + checkpointPosition + ": acknowledged updates are missing");
        }
        if (ck.isPresent() && ck.get().applied() != counts[4]) {
            warn.accept("checkpoint " + ck.get().file().getFileName() + " says " + ck.get().applied()
                    + " updates applied, the log holds " + counts[4] + " before its position");
        }
        if (scan.tornReason() != null) {
            warn.accept("log " + logFile.getFileName() + ": dropping a torn tail of " + scan.tornBytes() + " bytes ("
                    + scan.tornReason() + ")");
        }
        ModelImage image = ModelImage.of(strategy.version(), strategy.model());
        return new Recovered(strategy, acks, counts[0], counts[1], counts[2], (int) counts[3], image, scan);
    }
}
