package dev.tributary.rl.learner;

import dev.tributary.replay.RateLimiter;
import dev.tributary.replay.Table;
import dev.tributary.replay.TableConfig;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The learner's buffer on a durable replay {@link Table}: an item is acknowledged once it is in the
 * table's log, and a checkpoint holds the table and the learner's state together, so a learner killed at
 * any moment comes back with every acknowledged item in its buffer (or consumed) exactly once.
 */
public final class DurableBuffer implements ExperienceBuffer {
    /** The table's folder inside a learner's state folder. */
    public static final String DIR = "experience";

    private final Table table;

    private DurableBuffer(Table table) {
        this.table = table;
    }

    /**
     * Opens (recovering) the learner's FIFO table in {@code stateDir}/experience: its rate limiter admits an
     * insert while fewer than {@code waiting} items were inserted and not yet handed to training, and the
     * table holds at most {@code 2 × waiting} items (those waiting plus those in training).
     *
     * <p>Unlike Reverb's queue limiter, sampling never waits for the ratio: the learner samples a batch,
     * trains, then removes it, so an item sampled and not removed (a kill between the two, or a batch cut
     * short by items dropped for their lag) must be sampled again; with the queue limiter such items, once
     * they are all the table holds, block sampling and inserts for good.
     */
    public static DurableBuffer open(Path stateDir, int waiting, Consumer<String> warn) throws IOException {
        return new DurableBuffer(Table.open(stateDir.resolve(DIR), config(waiting), warn));
    }

    /** The table's configuration for {@code waiting} items waiting for training. */
    static TableConfig config(int waiting) {
        if (waiting < 1) {
            throw new IllegalArgumentException("waiting < 1: " + waiting);
        }
        return TableConfig.fifoQueue(2L * waiting)
                .withLimiter(new RateLimiter(1.0, 1, -Double.MAX_VALUE, waiting, Duration.ZERO));
    }

    /** Ids of all items a learner's state folder ever accepted, in order. */
    public static List<String> insertedIds(Path stateDir) throws IOException {
        return Table.insertedIds(stateDir.resolve(DIR));
    }

    @Override
    public CompletableFuture<Boolean> insert(String id, long policyVersion, MemorySegment payload, double priority) {
        return table.insert(id, policyVersion, payload, priority);
    }

    @Override
    public List<Item> sample(int n, Duration timeout) throws InterruptedException {
        return table.sample(n, timeout).stream()
                .map(i -> new Item(i.id(), i.policyVersion(), i.payload(), i.priority(), i.sequence())).toList();
    }

    @Override
    public CompletableFuture<Void> remove(List<String> ids) {
        return table.remove(ids);
    }

    @Override
    public boolean contains(String id) {
        return table.contains(id);
    }

    @Override
    public String whyNotInsert() {
        return table.whyNotInsert();
    }

    @Override
    public long size() {
        return table.size();
    }

    @Override
    public void checkpoint(TensorMap callerState) {
        try {
            table.checkpoint(callerState);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Optional<TensorMap> lastCallerState() {
        return table.lastCallerState();
    }

    @Override
    public void close() {
        try {
            table.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
