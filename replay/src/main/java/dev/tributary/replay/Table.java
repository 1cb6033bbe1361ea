package dev.tributary.replay;

import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.Durables;
import dev.tributary.store.ExperienceInserted;
import dev.tributary.store.ExperienceRemoved;
import dev.tributary.store.ExperienceSampled;
import dev.tributary.store.Failpoints;
import dev.tributary.store.LogCompaction;
import dev.tributary.store.ModelImage;
import dev.tributary.store.Prepared;
import dev.tributary.store.StateDirectory;
import dev.tributary.store.UpdateLog;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * An experience table, like Reverb's: items go in with a priority, a {@link Sampler} hands them out, a
 * {@link Remover} makes room, a {@link RateLimiter} keeps inserts and samples in step; persistent and
 * crash-safe in its own folder, through the store's log and checkpoints.
 *
 * <p>Call order: {@link #open} (recovers the folder), then from any threads {@link #insert},
 * {@link #sample}, {@link #remove}, the counters, and from time to time {@link #checkpoint}; {@link #close}
 * once. An on-policy learner samples, trains, removes what it consumed, then checkpoints its policy with
 * the table. The folder holds {@value #LOG}, {@code checkpoint-*.safetensors} and a {@code lock} that keeps
 * a second process out.
 *
 * <p>Guarantees:
 * <ul>
 *   <li>Every change is a log record, appended in the order the table made it: an insert's future
 *       completes (true) only once its record is on disk; an id already inserted (even if gone since)
 *       completes with false once that first insert is durable, and is not inserted twice.</li>
 *   <li>{@link #open} restores the newest valid checkpoint and replays the log after it as it was written:
 *       after kill -9 at any moment, every acknowledged item is in the table or was removed, exactly once.
 *       An item can be sampled before it is durable; if the process dies first it is not acknowledged.</li>
 *   <li>A damaged log record or a log that contradicts its checkpoint stops {@link #open} with the file,
 *       offset and reason; a damaged checkpoint is skipped with a warning (the log still holds everything).
 *       Only an incomplete last record (a write the crash cut short, never acknowledged) is dropped, with
 *       a warning.</li>
 *   <li>Memory: live items are bounded by {@link TableConfig#memoryBudgetBytes}; see there. A checkpoint
 *       needs up to twice the live payload bytes while it is written.</li>
 *   <li>After an I/O failure of the log every call refuses; reopen the table to recover from disk.</li>
 * </ul>
 *
 * <p>Failpoints, besides the store's: {@code replay.ack} (an insert is durable, before its future completes).
 */
public final class Table implements AutoCloseable {
    /** The log's file name in the table's folder. */
    public static final String LOG = "experience.log";
    /** The checkpoints' {@code strategy} field: marks a table's checkpoint. */
    static final String KIND = "replay-table";
    private static final int KEEP = 2;
    /**
     * The least a compaction of the log gives back: on disk the log holds what follows the older of the two
     * checkpoints plus less than this.
     */
    static final long COMPACT_LOG_BYTES = 64L << 20;
    private static final int IDS_PER_RECORD = 4096;
    private static final long FOREVER_NANOS = TimeUnit.DAYS.toNanos(365 * 100);

    private final Path dir;
    private final TableConfig config;
    private final Consumer<String> warn;
    private final FileChannel lockChannel;
    private final Checkpoints checkpoints;
    private final UpdateLog log;
    private final TableState state;
    private final Optional<TensorMap> lastCallerState;
    private final ReentrantLock mu = new ReentrantLock();
    private final Condition changed = mu.newCondition();
    /** Inserts whose record is not durable yet: a retry of the id waits for the first. */
    private final Map<String, CompletableFuture<Void>> pending = new ConcurrentHashMap<>();
    private final Object checkpointing = new Object();
    private CompletableFuture<Void> lastAppend = CompletableFuture.completedFuture(null);
    private long checkpointNumber;
    private final LogCompaction compaction;
    private boolean closed;

    private Table(Path dir, TableConfig config, Consumer<String> warn, FileChannel lockChannel, Checkpoints checkpoints,
            UpdateLog log, TableRecovery.Recovered r) {
        this.dir = dir;
        this.config = config;
        this.warn = warn;
        this.lockChannel = lockChannel;
        this.checkpoints = checkpoints;
        this.log = log;
        this.compaction = new LogCompaction(dir.resolve(LOG), checkpoints, COMPACT_LOG_BYTES, warn, "table " + dir
                + ": the file system cannot punch holes, so compacted payloads stay on disk", "table " + dir
                + ": log compaction failed, the log keeps its payloads");
        this.state = r.state();
        this.checkpointNumber = r.checkpointNumber();
        this.lastCallerState = r.callerState();
    }

    /**
     * Recovers from {@code dir} (created when missing): the newest valid checkpoint, then the log after it.
     *
     * @param warn receives one line for each thing recovery skipped or dropped (damaged checkpoints, a torn
     *     last record, salvaged records) and for bounds the recovered table is over
     * @throws dev.tributary.store.LogCorruptException when a log record is damaged or contradicts the table
     * @throws IOException when the log and the checkpoint disagree, or on I/O failure
     * @throws IllegalStateException when another process (or table) has the folder open
     */
    public static Table open(Path dir, TableConfig config, Consumer<String> warn) throws IOException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(warn, "warn");
        Files.createDirectories(dir);
        FileChannel lockChannel = StateDirectory.lock(dir, "table");
        try {
            Checkpoints checkpoints = new Checkpoints(dir, KEEP);
            TableRecovery.Recovered r = TableRecovery.recover(dir, checkpoints, config, warn);
            UpdateLog log = UpdateLog.open(dir.resolve(LOG), r.validEnd());
            // Records a killed process wrote may still be in the page cache only: force them before the
            // table answers for them (a retried id is acknowledged as already inserted).
            Durables.fsyncFile(dir.resolve(LOG));
            Table t = new Table(dir, config, warn, lockChannel, checkpoints, log, r);
            t.enforceBounds();
            return t;
        } catch (IOException | RuntimeException e) {
            lockChannel.close();
            throw e;
        }
    }

    /**
     * Inserts an item; durable when the future completes with true. An id already inserted completes with
     * false (once the first insert is durable) and is not inserted twice. When the rate limiter holds
     * inserts back, or the table is full and its remover evicts nothing, the insert waits up to the
     * limiter's insert timeout, then completes exceptionally with an {@link InsertRefusedException} saying
     * why; nothing is written then. With a FIFO remover a full table evicts its oldest items first.
     *
     * @param payload copied before this returns
     * @throws IllegalArgumentException with a one-line reason: an id that is empty, longer than
     *     {@link TableConfig#MAX_ID_BYTES} or holds control characters, a negative policy version, a priority
     *     that is not finite and ≥ 0, a payload over {@link TableConfig#maxItemBytes}
     * @throws IllegalStateException when the table is closed or its log failed
     */
    public CompletableFuture<Boolean> insert(String id, long policyVersion, MemorySegment payload, double priority) {
        checkId(id);
        Objects.requireNonNull(payload, "payload");
        if (payload.byteSize() > config.maxItemBytes()) {
            throw new IllegalArgumentException("item " + id + ": payload of " + payload.byteSize() + " bytes > maxItemBytes "
                    + config.maxItemBytes());
        }
        if (policyVersion < 0) {
            throw new IllegalArgumentException("item " + id + ": policy version " + policyVersion + " < 0");
        }
        if (!(priority >= 0) || !Double.isFinite(priority) || !Double.isFinite(state.items.weight(priority))) {
            throw new IllegalArgumentException("item " + id + ": priority " + priority
                    + ": must be finite and >= 0, and so must priority^exponent");
        }
        byte[] copy = payload.toArray(ValueLayout.JAVA_BYTE);
        Prepared record = Prepared.of(new ExperienceInserted(id, policyVersion, priority, MemorySegment.ofArray(copy)));
        long footprint = TableConfig.footprint(copy.length, id.length());
        mu.lock();
        try {
            long deadline = System.nanoTime() + nanos(config.limiter().insertTimeout());
            while (true) {
                checkUsable();
                if (state.known.contains(id)) {
                    CompletableFuture<Void> first = pending.get(id);
                    return first == null ? CompletableFuture.completedFuture(false) : first.thenApply(v -> false);
                }
                String why = whyNotInsert(footprint);
                if (why == null) {
                    break;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return CompletableFuture.failedFuture(new InsertRefusedException("item " + id + " refused: " + why));
                }
                try {
                    changed.awaitNanos(left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return CompletableFuture.failedFuture(new InsertRefusedException("item " + id + " refused: interrupted"
                            + " while waiting: " + why));
                }
            }
            if (config.remover() == Remover.FIFO) {
                evictOldest(config.maxSize() - 1, config.memoryBudgetBytes() - footprint);
            }
            CompletableFuture<Void> durable = log.append(record).durable();
            state.insert(new Entry(id, policyVersion, copy, priority, state.inserted));
            lastAppend = durable;
            pending.put(id, durable);
            durable.whenComplete((v, e) -> pending.remove(id, durable));
            changed.signalAll();
            return durable.thenApply(v -> {
                Failpoints.hit("replay.ack");
                return true;
            });
        } finally {
            mu.unlock();
        }
    }

    /** Why an insert of an item of {@code footprint} bytes must wait now, or null. */
    private String whyNotInsert(long footprint) {
        String why = config.limiter().whyNotInsert(state.inserted, state.removed, state.sampled, 1);
        if (why != null || config.remover() == Remover.FIFO) {
            return why;
        }
        if (state.items.size() >= config.maxSize()) {
            return "table full: " + state.items.size() + " items, maxSize " + config.maxSize() + " (remover NONE)";
        }
        if (state.items.bytes() + footprint > config.memoryBudgetBytes()) {
            return "memory budget: live items take " + state.items.bytes() + " bytes, this one " + footprint + ", budget "
                    + config.memoryBudgetBytes() + " (remover NONE)";
        }
        return null;
    }

    /**
     * Up to {@code n} items chosen by the sampler, each as soon as the rate limiter lets it through, waiting
     * at most {@code timeout} in all (then fewer, or none). Uniform and prioritized draws are with
     * replacement; FIFO hands out the oldest items, each once per call. A close returns what was drawn.
     *
     * @throws InterruptedException when interrupted before anything was drawn (after: returns what was
     *     drawn, the interrupt flag set)
     * @throws IllegalStateException when the table is closed or its log failed
     */
    public List<Item> sample(int n, Duration timeout) throws InterruptedException {
        if (n < 1) {
            throw new IllegalArgumentException("n < 1: " + n);
        }
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout < 0: " + timeout);
        }
        long deadline = System.nanoTime() + nanos(timeout);
        List<Item> out = new ArrayList<>(Math.min(n, 1024));
        Set<String> taken = config.sampler() instanceof Sampler.Fifo ? new HashSet<>() : null;
        mu.lock();
        try {
            checkUsable();
            int logged = 0;
            Iterator<Entry> fifo = null;
            while (out.size() < n && !closed) {
                Entry e = null;
                if (state.items.size() > 0 && config.limiter().canSample(state.inserted, state.removed, state.sampled, 1)) {
                    if (taken == null) {
                        e = state.items.draw(Draws.unit(seed(), state.sampled));
                    } else {
                        fifo = fifo == null ? state.items.inOrder().iterator() : fifo;
                        while (e == null && fifo.hasNext()) {
                            Entry next = fifo.next();
                            e = taken.add(next.id) ? next : null;
                        }
                    }
                }
                if (e != null) {
                    out.add(e.item());
                    state.sampled(1);
                    continue;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                logged = logSamples(out.size(), logged);
                fifo = null;
                try {
                    changed.awaitNanos(left);
                } catch (InterruptedException ie) {
                    if (out.isEmpty()) {
                        throw ie;
                    }
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            logSamples(out.size(), logged);
            if (!out.isEmpty()) {
                changed.signalAll();
            }
        } finally {
            mu.unlock();
        }
        return out;
    }

    private long seed() {
        return switch (config.sampler()) {
            case Sampler.Uniform u -> u.seed();
            case Sampler.Prioritized p -> p.seed();
            case Sampler.Fifo f -> 0;
        };
    }

    /** Logs the samples drawn since the last record, before the lock is let go; returns the count logged. */
    private int logSamples(int drawn, int logged) {
        if (drawn > logged) {
            lastAppend = log.append(new ExperienceSampled(drawn - logged)).durable();
        }
        return drawn;
    }

    /**
     * Removes the items (consumed by an on-policy learner, say); durable when the future completes. Ids not
     * in the table (never inserted, already removed or evicted) are ignored; the future then still waits
     * for every earlier change to be durable.
     *
     * @throws IllegalStateException when the table is closed or its log failed
     */
    public CompletableFuture<Void> remove(List<String> ids) {
        Objects.requireNonNull(ids, "ids");
        mu.lock();
        try {
            checkUsable();
            Set<String> live = new LinkedHashSet<>();
            for (String id : ids) {
                if (state.items.contains(Objects.requireNonNull(id, "id"))) {
                    live.add(id);
                }
            }
            logRemoval(ExperienceRemoved.Cause.REMOVED, new ArrayList<>(live));
            if (!live.isEmpty()) {
                changed.signalAll();
            }
            return lastAppend.copy();
        } finally {
            mu.unlock();
        }
    }

    /** Evicts the oldest items until at most {@code items} remain, taking at most {@code bytes}. */
    private void evictOldest(long items, long bytes) {
        List<String> out = new ArrayList<>();
        long size = state.items.size();
        long taken = state.items.bytes();
        for (Entry e : state.items.inOrder()) {
            if (size <= items && taken <= bytes) {
                break;
            }
            out.add(e.id);
            size--;
            taken -= e.footprint();
        }
        logRemoval(ExperienceRemoved.Cause.EVICTED, out);
    }

    private void logRemoval(ExperienceRemoved.Cause cause, List<String> ids) {
        for (int from = 0; from < ids.size(); from += IDS_PER_RECORD) {
            List<String> chunk = ids.subList(from, Math.min(ids.size(), from + IDS_PER_RECORD));
            lastAppend = log.append(new ExperienceRemoved(cause, chunk)).durable();
            state.remove(cause, chunk);
        }
    }

    /** A table recovered over the bounds of a smaller configuration evicts down to them, or warns. */
    private void enforceBounds() {
        mu.lock();
        try {
            long size = state.items.size();
            long bytes = state.items.bytes();
            if (size <= config.maxSize() && bytes <= config.memoryBudgetBytes()) {
                return;
            }
            String over = "table " + dir + " recovered " + size + " items taking " + bytes + " bytes, over maxSize "
                    + config.maxSize() + " or memoryBudgetBytes " + config.memoryBudgetBytes();
            if (config.remover() == Remover.FIFO) {
                evictOldest(config.maxSize(), config.memoryBudgetBytes());
                warn.accept(over + ": evicted the " + (size - state.items.size()) + " oldest");
            } else {
                warn.accept(over + ": nothing evicted (remover NONE); inserts wait until items are removed");
            }
        } finally {
            mu.unlock();
        }
    }

    /**
     * Writes an atomic checkpoint of the table together with the caller's state (the learner's policy,
     * optimizer state and version as tensors and metadata, say): one file, renamed into place, so that both
     * are restored together, by {@link #open} and {@link #lastCallerState}. The table's state is taken at
     * the call; the file is written once every record before it is durable. The newest two are kept.
     */
    public void checkpoint(TensorMap callerState) throws IOException {
        Objects.requireNonNull(callerState, "callerState");
        synchronized (checkpointing) {
            List<Entry> items;
            TableImage.Counters counters;
            long position;
            long number;
            CompletableFuture<Void> covered;
            mu.lock();
            try {
                checkUsable();
                items = state.items.inSlotOrder();
                counters = state.counters();
                position = log.end();
                covered = lastAppend;
                number = ++checkpointNumber;
            } finally {
                mu.unlock();
            }
            try {
                covered.join();
            } catch (CompletionException e) {
                throw new IOException("table " + dir + ": the log failed before the checkpoint", e.getCause());
            }
            try (Arena arena = Arena.ofConfined()) {
                TensorMap table = TableImage.encode(items, counters, callerState.metadata(), arena);
                checkpoints.write(ModelImage.of(number, callerState), callerState, position, counters.inserted(), KIND, table);
            }
            compactLog();
        }
    }

    /**
     * Compacts the log behind every checkpoint on disk once {@link #COMPACT_LOG_BYTES} can go: the payloads
     * of items inserted before it go, their ids stay ({@link CompactedLog}). A failure is reported and leaves
     * the log as it was.
     */
    private void compactLog() {
        compaction.run(() -> false);
    }

    /** The caller's state of the checkpoint {@link #open} restored (tensors and metadata); empty when none. */
    public Optional<TensorMap> lastCallerState() {
        return lastCallerState;
    }

    /**
     * Whether {@code id} was ever inserted, whether it is still in the table or gone since (sampled and
     * removed, or evicted): the table's durable index of ids, rebuilt from the whole log by {@link #open}, so
     * that a retry after a restart is recognized however old the item is. An insert whose record is not
     * durable yet counts as inserted.
     */
    public boolean contains(String id) {
        Objects.requireNonNull(id, "id");
        mu.lock();
        try {
            return state.known.contains(id);
        } finally {
            mu.unlock();
        }
    }

    /**
     * Why an insert would be refused now (the rate limiter's reason, or a full table without a remover), in
     * one line; null when it may proceed. A hint only: {@link #insert} decides again under the table's lock.
     */
    public String whyNotInsert() {
        mu.lock();
        try {
            checkUsable();
            return whyNotInsert(0);
        } finally {
            mu.unlock();
        }
    }

    /** Items in the table now. */
    public long size() {
        return read(() -> (long) state.items.size());
    }

    /** Items ever inserted (not counting refused or repeated ids). */
    public long inserted() {
        return read(() -> state.inserted);
    }

    /** Items ever handed out by {@link #sample}. */
    public long sampled() {
        return read(() -> state.sampled);
    }

    /** Items gone: removed by {@link #remove} or evicted; {@code size() == inserted() − removed()}. */
    public long removed() {
        return read(() -> state.removed);
    }

    /** Of {@link #removed()}, the items the remover evicted. */
    public long evicted() {
        return read(() -> state.evicted);
    }

    /** Bytes the live items take, as {@link TableConfig#footprint} counts them. */
    public long bytes() {
        return read(() -> state.items.bytes());
    }

    /** The live items, oldest first; for tests and tools (it copies nothing but the list). */
    List<Item> snapshot() {
        mu.lock();
        try {
            List<Item> out = new ArrayList<>(state.items.size());
            state.items.inOrder().forEach(e -> out.add(e.item()));
            return out;
        } finally {
            mu.unlock();
        }
    }

    /** The ids in slot order: what uniform and prioritized draws index. */
    List<String> slotOrder() {
        mu.lock();
        try {
            return state.items.inSlotOrder().stream().map(e -> e.id).toList();
        } finally {
            mu.unlock();
        }
    }

    private long read(LongSupplier s) {
        mu.lock();
        try {
            return s.getAsLong();
        } finally {
            mu.unlock();
        }
    }

    /**
     * Every id ever inserted into the table in {@code dir}, in order (for {@code tributary log --state DIR}
     * on a learner's state); an incomplete last record is not listed. May run while the table is open.
     *
     * @throws dev.tributary.store.LogCorruptException when a record is damaged
     */
    public static List<String> insertedIds(Path dir) throws IOException {
        List<String> ids = new ArrayList<>();
        CompactedLog.scanAll(dir.resolve(LOG), ids::clear, (start, end, r) -> {
            if (r instanceof ExperienceInserted x) {
                ids.add(x.id());
            }
        });
        return ids;
    }

    /** Writes out and syncs what is queued, then lets the folder go; waiting calls return or are refused. */
    @Override
    public void close() throws IOException {
        mu.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            changed.signalAll();
        } finally {
            mu.unlock();
        }
        try {
            log.close();
        } finally {
            lockChannel.close();
        }
    }

    private void checkUsable() {
        if (closed) {
            throw new IllegalStateException("table " + dir + " is closed");
        }
        if (log.failure() != null) {
            throw new IllegalStateException("table " + dir + ": its log failed (" + log.failure().getMessage()
                    + "); reopen the table to recover from disk", log.failure());
        }
    }

    private static void checkId(String id) {
        Objects.requireNonNull(id, "id");
        int bytes = id.getBytes(StandardCharsets.UTF_8).length;
        if (bytes < 1 || bytes > TableConfig.MAX_ID_BYTES) {
            throw new IllegalArgumentException("item id of " + bytes + " bytes: must be 1 to " + TableConfig.MAX_ID_BYTES);
        }
        if (id.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("item id \"" + id.replaceAll("\\p{Cntrl}", "?") + "\" holds control characters");
        }
    }

    private static long nanos(Duration d) {
        return d.compareTo(Duration.ofNanos(FOREVER_NANOS)) > 0 ? FOREVER_NANOS : d.toNanos();
    }
}
