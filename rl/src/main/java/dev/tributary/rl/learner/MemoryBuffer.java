package dev.tributary.rl.learner;

import dev.tributary.replay.InsertRefusedException;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An {@link ExperienceBuffer} in memory: a FIFO sampler (the oldest items first, each returned until it
 * is removed), at most {@code capacity} items (an insert beyond it fails with {@link InsertRefusedException};
 * nothing is dropped). Items do not survive the
 * process; the caller state does when a folder is given (one safetensors file, replaced atomically).
 * For tests and for running without the replay module; the replay table is the durable buffer.
 */
public final class MemoryBuffer implements ExperienceBuffer {
    static final String STATE_FILE = "learner-state.safetensors";

    private final int capacity;
    private final Path dir;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition added = lock.newCondition();
    private final LinkedHashMap<String, Item> items = new LinkedHashMap<>();
    private final Set<String> inserted = new HashSet<>();
    private final List<String> insertionOrder = new ArrayList<>();
    private TensorMap callerState;
    private long sequence;

    private MemoryBuffer(int capacity, Path dir, TensorMap callerState) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity < 1: " + capacity);
        }
        this.capacity = capacity;
        this.dir = dir;
        this.callerState = callerState;
    }

    /** A buffer of at most {@code capacity} items whose checkpoints stay in memory. */
    public static MemoryBuffer inMemory(int capacity) {
        return new MemoryBuffer(capacity, null, null);
    }

    /** A buffer whose checkpoints of the caller state are kept in {@code dir} (created when missing). */
    public static MemoryBuffer persistingState(int capacity, Path dir) {
        try {
            Files.createDirectories(dir);
            Path f = dir.resolve(STATE_FILE);
            return new MemoryBuffer(capacity, dir, Files.exists(f) ? Safetensors.readAll(f) : null);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public CompletableFuture<Boolean> insert(String id, long policyVersion, MemorySegment payload, double priority) {
        MemorySegment copy = Arena.ofAuto().allocate(payload.byteSize(), 64).copyFrom(payload);
        lock.lock();
        try {
            if (inserted.contains(id)) {
                return CompletableFuture.completedFuture(false);
            }
            String why = whyFull();
            if (why != null) {
                return CompletableFuture.failedFuture(new InsertRefusedException("item " + id + " refused: " + why));
            }
            inserted.add(id);
            insertionOrder.add(id);
            items.put(id, new Item(id, policyVersion, copy, priority, sequence++));
            added.signalAll();
            return CompletableFuture.completedFuture(true);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<Item> sample(int n, Duration timeout) throws InterruptedException {
        if (n < 1) {
            throw new IllegalArgumentException("n < 1: " + n);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        lock.lock();
        try {
            while (items.isEmpty()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return List.of();
                }
                added.await(left, TimeUnit.NANOSECONDS);
            }
            return items.values().stream().limit(n).toList();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public CompletableFuture<Void> remove(List<String> ids) {
        lock.lock();
        try {
            ids.forEach(items::remove);
        } finally {
            lock.unlock();
        }
        return CompletableFuture.completedFuture(null);
    }

    private String whyFull() {
        return items.size() >= capacity ? "buffer full: " + items.size() + " items, capacity " + capacity : null;
    }

    @Override
    public boolean contains(String id) {
        lock.lock();
        try {
            return inserted.contains(id);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public String whyNotInsert() {
        lock.lock();
        try {
            return whyFull();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long size() {
        lock.lock();
        try {
            return items.size();
        } finally {
            lock.unlock();
        }
    }

    /** Every id ever inserted, in order. */
    public List<String> insertedIds() {
        lock.lock();
        try {
            return List.copyOf(insertionOrder);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void checkpoint(TensorMap state) {
        if (dir != null) {
            Safetensors.write(dir.resolve(STATE_FILE), state);
        }
        lock.lock();
        try {
            callerState = state;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Optional<TensorMap> lastCallerState() {
        lock.lock();
        try {
            return Optional.ofNullable(callerState);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {}
}
