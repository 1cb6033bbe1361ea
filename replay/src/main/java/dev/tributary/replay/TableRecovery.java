package dev.tributary.replay;

import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.ExperienceInserted;
import dev.tributary.store.ExperienceRecord;
import dev.tributary.store.ExperienceRemoved;
import dev.tributary.store.ExperienceSampled;
import dev.tributary.store.LogCorruptException;
import dev.tributary.store.LogScan;
import dev.tributary.store.Salvaged;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Rebuilds a table from its folder: the newest checkpoint that loads and verifies (older ones next, each
 * skip reported), then every log record after the checkpoint's position, applied as it was logged. The
 * whole log is scanned and checked (its compacted part from its chunks, see {@link CompactedLog}): ids
 * before the position are remembered (a retried insert is
 * recognized), and anything damaged, or a log that contradicts itself or the checkpoint, stops recovery
 * with the reason; nothing is dropped silently. After an explicit salvage (damaged records replaced by
 * {@link Salvaged} ones, each listed by the salvage), what the replaced records held is missing: a later
 * removal of such an item, and a checkpoint counting more inserts than the log shows, are then warned
 * about instead.
 */
final class TableRecovery {
    /** What recovery found: the state, and where appending resumes. */
    record Recovered(TableState state, long validEnd, long checkpointNumber, Optional<TensorMap> callerState) {}

    private TableRecovery() {}

    static Recovered recover(Path dir, Checkpoints checkpoints, TableConfig config, Consumer<String> warn) throws IOException {
        TableState state = new TableState(config.sampler());
        Optional<Found> found = newestValid(checkpoints, warn);
        found.ifPresent(f -> state.restore(f.table()));
        Optional<Checkpoints.Loaded> ck = found.map(Found::loaded);
        long position = ck.map(Checkpoints.Loaded::logPosition).orElse(0L);
        long checkpointInserts = state.inserted;
        Path file = dir.resolve(Table.LOG);
        long[] index = {0};
        long[] before = {0};
        boolean[] salvaged = {false};
        CompactedLog.removeLeftovers(file);
        long compacted = CompactedLog.end(file);
        if (compacted > position) {
            throw new IOException(file + ": the log is compacted up to offset " + compacted + ", but "
                    + ck.map(c -> "the newest valid checkpoint, " + c.file().getFileName() + ", covers only up to " + position)
                            .orElse("no valid checkpoint is left")
                    + ": the items in between are gone; restore a checkpoint at or after that offset");
        }
        LogScan.Visitor visit = (start, end, rec) -> {
            long k = index[0]++;
            if (rec instanceof Salvaged) {
                warn.accept(file + ": offset " + start + ": a salvaged record (damaged bytes replaced) is skipped");
                salvaged[0] = true;
                return;
            }
            if (!(rec instanceof ExperienceRecord x)) {
                throw new IOException(file + ": record " + k + " at offset " + start + " is a coordinator's "
                        + rec.getClass().getSimpleName() + ": this is not an experience table's log");
            }
            if (x instanceof ExperienceInserted in && !state.known.add(in.id())) {
                throw new LogCorruptException(file, start, k, "item " + in.id() + " is inserted a second time");
            }
            if (end <= position) {
                before[0] += x instanceof ExperienceInserted ? 1 : 0;
                return;
            }
            if (start < position) {
                throw new IOException(file + ": record " + k + " spans offsets " + start + ".." + end
                        + ", across the checkpoint's log position " + position + ": the checkpoint is not of this log");
            }
            List<String> missing = apply(state, x);
            if (!missing.isEmpty() && !salvaged[0]) {
                throw new LogCorruptException(file, start, k, "removes item " + missing.getFirst() + ", which is not in the table");
            }
            if (!missing.isEmpty()) {
                warn.accept(file + ": offset " + start + ": removal of " + missing + " skipped: not in the table (a salvaged"
                        + " record held them)");
            }
        };
        CompactedLog.scan(file, visit);
        LogScan.Result scan = LogScan.scan(file, compacted, Long.MAX_VALUE, visit);
        if (scan.validEnd() < position) {
            throw new IOException(file + ": the log ends at offset " + scan.validEnd() + ", before the position " + position
                    + " the checkpoint " + ck.get().file().getFileName() + " covers: the log was cut or replaced");
        }
        if (ck.isPresent() && before[0] != checkpointInserts && !(salvaged[0] && before[0] < checkpointInserts)) {
            throw new IOException(file + ": the checkpoint " + ck.get().file().getFileName() + " counts " + checkpointInserts
                    + " inserts, the log before its position " + before[0] + ": the checkpoint is not of this log");
        }
        if (scan.tornReason() != null) {
            warn.accept(file + ": dropped an incomplete last record (" + scan.tornBytes() + " bytes, never acknowledged): "
                    + scan.tornReason());
        }
        return new Recovered(state, scan.validEnd(), ck.map(Checkpoints.Loaded::version).orElse(0L),
                found.map(Found::callerState));
    }

    /** Applies one record after the checkpoint; returns the ids of items a removal does not find. */
    private static List<String> apply(TableState state, ExperienceRecord x) {
        switch (x) {
            case ExperienceInserted in -> state.insert(new Entry(in.id(), in.policyVersion(),
                    in.payload().toArray(ValueLayout.JAVA_BYTE), in.priority(), state.inserted));
            case ExperienceRemoved r -> {
                return state.remove(r.cause(), r.ids());
            }
            case ExperienceSampled s -> state.sampled(s.count());
        }
        return List.of();
    }

    private record Found(Checkpoints.Loaded loaded, TableImage.Restored table) {
        TensorMap callerState() {
            TensorMap caller = new TensorMap(loaded.model().asMap());
            table.callerMetadata().forEach(caller::putMetadata);
            return caller;
        }
    }

    /** The newest checkpoint whose caller state and table both verify. */
    private static Optional<Found> newestValid(Checkpoints checkpoints, Consumer<String> warn) throws IOException {
        for (Path p : checkpoints.list()) {
            try {
                Checkpoints.Loaded l = Checkpoints.load(p);
                if (!Table.KIND.equals(l.strategy())) {
                    throw new IllegalArgumentException("a checkpoint of \"" + l.strategy() + "\", not of a table");
                }
                return Optional.of(new Found(l, TableImage.decode(l.state())));
            } catch (InvalidCheckpointException e) {
                warn.accept("checkpoint " + p.getFileName() + " skipped: " + e.problem());
            } catch (IllegalArgumentException | IOException e) {
                warn.accept("checkpoint " + p.getFileName() + " skipped: " + e.getMessage());
            }
        }
        return Optional.empty();
    }
}
