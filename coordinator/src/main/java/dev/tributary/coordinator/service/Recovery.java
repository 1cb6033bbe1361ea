package dev.tributary.coordinator.service;

import dev.tributary.store.ModelImage;
import dev.tributary.store.AcceptedUpdate;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.DeadlinePassed;
import dev.tributary.store.ExperienceRecord;
import dev.tributary.store.LogScan;
import dev.tributary.store.Salvaged;
import dev.tributary.store.StrategyConfig;
import dev.tributary.coordinator.strategy.Decision;
import dev.tributary.coordinator.strategy.Published;
import dev.tributary.coordinator.strategy.Refused;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Brings a strategy back to where the last run left it: the newest valid checkpoint, then every log
 * record after its log position replayed in order, under the configuration each was accepted with (the
 * log's configuration records). What was accepted stays accepted: a record that replay would refuse means
 * the log and the code disagree, and recovery stops rather than drop it. The ids of all accepted updates
 * (before the checkpoint too) are collected so that a repeated push is acknowledged, not applied again.
 * Every record is checked; a torn last record is left out (it was never acknowledged) and cut off when the
 * log is opened for appending; damage anywhere else stops the start ({@code LogCorruptException}). A log whose
 * prefix was compacted ({@link CompactedLog}) is read from its chunks (ids and configurations) and then from
 * where they end.
 * A configuration different from the one in force is taken up at the end, and logged.
 */
final class Recovery {
    private Recovery() {}

    /**
     * The recovered state the sequencer starts from.
     *
     * @param configToLog the configuration record to append before serving (a new state, or a changed
     *     configuration), or null
     */
    record Recovered(Strategy strategy, Map<String, CompletableFuture<Sequencer.Ack>> acks, long accepted,
            long acceptedAtPublish, long publishEnd, int publishesSinceCheckpoint, ModelImage image,
            LogScan.Result scan, StrategyConfig configToLog) {}

    /** Thrown when the state cannot be continued as it is; its message is the one line to show. */
    static final class Unrecoverable extends IllegalStateException {
        Unrecoverable(String message) {
            super(message);
        }
    }

    private static final class Replay {
        final String name;
        final Map<String, Object> wanted;
        final TensorMap initialModel;
        final Optional<Checkpoints.Loaded> checkpoint;
        final long checkpointPosition;
        final Map<String, CompletableFuture<Sequencer.Ack>> acks = new HashMap<>();
        StrategyConfig inForce;
        Strategy strategy;
        long accepted;
        long acceptedAtPublish;
        long acceptedBeforeCheckpoint;
        long publishEnd;
        int publishes;
        /** The strategy runs under the current configuration because the log named none before it. */
        boolean unlogged;

        final Path logFile;

        Replay(String name, Map<String, Object> wanted, TensorMap initialModel, Optional<Checkpoints.Loaded> ck,
                Path logFile) {
            this.name = name;
            this.logFile = logFile;
            this.wanted = wanted;
            this.initialModel = initialModel;
            this.checkpoint = ck;
            this.checkpointPosition = ck.map(Checkpoints.Loaded::logPosition).orElse(0L);
            this.publishEnd = checkpointPosition;
        }

        void record(long start, long end, dev.tributary.store.LogRecord rec) {
            if (rec instanceof AcceptedUpdate a) {
                accepted++;
                acks.put(a.updateId(), CompletableFuture.completedFuture(
                        new Sequencer.Ack(a.updateId(), false, a.version(), a.staleness())));
            }
            if (end <= checkpointPosition) {
                if (rec instanceof StrategyConfig c) {
                    inForce = c;
                }
                acceptedAtPublish = accepted;
                acceptedBeforeCheckpoint = accepted;
                return;
            }
            Strategy s = strategy();
            switch (rec) {
                case AcceptedUpdate a -> apply(s, a, end);
                case DeadlinePassed d -> {
                    if (d.version() != s.version()) {
                        throw new Unrecoverable("replay: a deadline record at offset " + start + " is for version "
                                + d.version() + " but the model is at version " + s.version());
                    }
                    if (s.onDeadline() instanceof Published) {
                        published(end);
                    }
                }
                case StrategyConfig c -> {
                    if (!c.strategy().equals(name)) {
                        throw new Unrecoverable("replay: the log switches to strategy " + c.strategy() + " at offset "
                                + start + ", this run is " + name);
                    }
                    if (!c.equals(inForce)) {
                        strategy = reconfigure(s, c, held(start));
                        inForce = c;
                    }
                    unlogged = false;
                }
                case Salvaged x -> { }
                case ExperienceRecord x -> throw new Unrecoverable("replay: the log holds an experience record at offset "
                        + start + ": it is an experience table's log, not a coordinator's");
            }
        }

        /** An update of the log as the strategy takes it, its delta copied out of the log's mapping. */
        private static Update update(AcceptedUpdate rec) {
            MemorySegment copy = Arena.ofAuto().allocate(rec.delta().byteSize(), 64);
            copy.copyFrom(rec.delta());
            TensorMap delta;
            try {
                delta = ModelImage.tensors(copy, "delta");
            } catch (InvalidCheckpointException e) {
                throw new Unrecoverable("replay: update " + rec.updateId() + " has a malformed delta: " + e.problem());
            }
            return new Update(rec.updateId(), rec.baseVersion(), rec.examples(), rec.localSteps(), delta, rec.metrics(),
                    rec.workerId());
        }

        /**
         * The updates accepted since the last publish, up to offset {@code to}, read back from the log for a
         * reconfigured strategy to adopt: the strategy that held them need not have kept their deltas.
         */
        List<Update> held(long to) {
            List<Update> held = new ArrayList<>();
            try {
                LogScan.scan(logFile, publishEnd, to, (start, end, rec) -> {
                    if (rec instanceof AcceptedUpdate a) {
                        held.add(update(a));
                    }
                });
            } catch (IOException e) {
                throw new UncheckedIOException("replay: reading back the updates held at offset " + publishEnd + ": "
                        + e.getMessage(), e);
            }
            return held;
        }

        private void apply(Strategy s, AcceptedUpdate rec, long end) {
            Decision d = s.onUpdate(update(rec));
            if (d instanceof Refused r) {
                throw new Unrecoverable("replay: acknowledged update " + rec.updateId() + " is refused on replay (" + r.reason()
                        + "): the log and this version of the coordinator disagree; nothing was changed");
            }
            if (s.version() != rec.version()) {
                throw new Unrecoverable("replay: update " + rec.updateId() + " led to version " + s.version()
                        + ", the log says " + rec.version() + "; nothing was changed");
            }
            if (d instanceof Published) {
                published(end);
            }
        }

        private void published(long end) {
            acceptedAtPublish = accepted;
            publishEnd = end;
            publishes++;
        }

        /** The strategy replay runs on, made at the first record after the checkpoint. */
        Strategy strategy() {
            if (strategy != null) {
                return strategy;
            }
            if (inForce != null && !inForce.strategy().equals(name)) {
                throw new Unrecoverable("state holds a " + inForce.strategy() + " run; refusing to continue it with " + name);
            }
            Map<String, Object> config = inForce == null ? wanted : Strategies.parseCanonical(inForce.yaml());
            Strategy s = Strategies.create(name, config, initialModel);
            if (checkpoint.isPresent()) {
                Checkpoints.Loaded c = checkpoint.get();
                s.restoreState(c.model(), c.version(), c.state());
            }
            if (inForce == null) {
                inForce = new StrategyConfig(name, Strategies.canonical(wanted));
                unlogged = true;
            }
            strategy = s;
            return s;
        }

        static Strategy reconfigure(Strategy s, StrategyConfig c, List<Update> held) {
            try {
                return Strategies.reconfigure(s, Strategies.parseCanonical(c.yaml()), held);
            } catch (IllegalArgumentException e) {
                throw new Unrecoverable("the " + s.name() + " state cannot continue under configuration " + c.yaml()
                        + ": " + e.getMessage());
            }
        }
    }

    static Recovered recover(String name, Map<String, Object> config, TensorMap initialModel, Checkpoints checkpoints,
            Path logFile, Consumer<String> warn) throws IOException {
        Optional<Checkpoints.Loaded> ck = checkpoints.newestValid(warn);
        if (ck.isPresent() && !ck.get().strategy().equals(name)) {
            throw new Unrecoverable("state " + ck.get().file().getParent() + " holds a " + ck.get().strategy()
                    + " run; refusing to continue it with " + name);
        }
        Replay replay = new Replay(name, config, initialModel, ck, logFile);
        CompactedLog.removeLeftovers(logFile);
        long compacted = CompactedLog.end(logFile);
        if (compacted > replay.checkpointPosition) {
            throw new Unrecoverable("log " + logFile + " is compacted up to offset " + compacted + ", but "
                    + ck.map(c -> "the newest valid checkpoint, " + c.file().getFileName() + ", starts at " + c.logPosition())
                            .orElse("no valid checkpoint is left")
                    + ": the updates in between are gone from the log; restore a checkpoint at or after that offset");
        }
        CompactedLog.scan(logFile, replay::record);
        LogScan.Result scan = LogScan.scan(logFile, compacted, Long.MAX_VALUE, replay::record);
        if (compacted > 0 && scan.fileSize() < compacted) {
            throw new Unrecoverable("log " + logFile + " holds " + scan.fileSize() + " bytes, fewer than its compacted part ("
                    + compacted + "): it was replaced or cut; acknowledged updates are missing");
        }
        long checkpointPosition = replay.checkpointPosition;
        if (scan.validEnd() < checkpointPosition) {
            throw new Unrecoverable("log " + logFile + " ends at " + scan.validEnd() + " (" + scan.tornReason()
                    + ") before the checkpoint's log position " + checkpointPosition + ": acknowledged updates are missing");
        }
        Strategy strategy = replay.strategy();
        if (ck.isPresent() && ck.get().applied() != replay.acceptedBeforeCheckpoint) {
            warn.accept("checkpoint " + ck.get().file().getFileName() + " says " + ck.get().applied()
                    + " updates applied, the log holds " + replay.acceptedBeforeCheckpoint + " before its position");
        }
        if (scan.tornReason() != null) {
            warn.accept("log " + logFile.getFileName() + ": cutting off a torn last record of " + scan.tornBytes()
                    + " bytes, never acknowledged (" + scan.tornReason() + ")");
        }
        StrategyConfig wanted = new StrategyConfig(name, Strategies.canonical(config));
        StrategyConfig toLog = null;
        if (!wanted.equals(replay.inForce)) {
            if (!replay.unlogged) {
                warn.accept("strategy configuration changed from " + replay.inForce.yaml() + " to " + wanted.yaml()
                        + ": it governs updates from now on; those accepted before stay as they were");
            }
            strategy = Replay.reconfigure(strategy, wanted, replay.held(scan.validEnd()));
            toLog = wanted;
        } else if (replay.unlogged) {
            toLog = wanted;
        }
        ModelImage image = ModelImage.of(strategy.version(), strategy.model());
        return new Recovered(strategy, replay.acks, replay.accepted, replay.acceptedAtPublish, replay.publishEnd,
                replay.publishes, image, scan, toLog);
    }
}
