package dev.tributary.coordinator.service;

import dev.tributary.coordinator.validation.Refusal;
import io.grpc.Status;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * The native memory pushed updates are received into, bounded by a budget of real bytes: every byte
 * allocated counts from its allocation to its free, whether a stream is filling it, the strategy holds
 * the delta in it, or it waits in the pool. A buffer takes memory when its update's first bytes arrive,
 * never at the header, so header-only streams cost nothing; it then takes the whole declared size at once,
 * so that a stream that got its memory is never refused halfway (under honest overload, streams that grew
 * step by step starved each other and wasted what they had sent). The open streams of one token, and of
 * one worker, may hold at most their share of the budget.
 *
 * <p>Each allocation has its own arena and is freed explicitly: by the pool when it is not needed (over
 * the pool's limit, idle too long, or in the way of an allocation), never left for the garbage collector.
 * A buffer that was reused is not zeroed again, which is the point of pooling: fresh native memory must
 * be zeroed and faulted in, which costs as much as receiving the bytes.
 */
final class ReceiveBuffers implements AutoCloseable {
    /** What a stream refused for want of memory is told to wait before it retries. */
    static final long BUSY_RETRY_MILLIS = 1000;

    private final long budget;
    private final long tokenShare;
    private final long workerShare;
    private final long poolLimit;
    private final long poolIdleMillis;
    private final LongSupplier clock;

    // Guarded by this.
    private final List<Block> free = new ArrayList<>();
    private final Map<String, Long> tokenBytes = new HashMap<>();
    private final Map<String, Long> workerBytes = new HashMap<>();
    private long committed;
    private long pooled;

    /** One native allocation. */
    private record Block(Arena arena, MemorySegment segment, long releasedMillis) {
        long size() {
            return segment.byteSize();
        }

        Block released(long now) {
            return new Block(arena, segment, now);
        }
    }

    /**
     * @param budget         real bytes all buffers may commit together, pooled ones included
     * @param tokenShare     bytes the open streams of one token may hold
     * @param workerShare    bytes the open streams of one worker may hold
     * @param poolLimit      free bytes kept for reuse at most
     * @param poolIdleMillis a free buffer unused this long is freed by {@link #trim}
     */
    ReceiveBuffers(long budget, long tokenShare, long workerShare, long poolLimit, long poolIdleMillis, LongSupplier clock) {
        if (budget < 1) {
            throw new IllegalArgumentException("budget < 1: " + budget);
        }
        this.budget = budget;
        this.tokenShare = tokenShare;
        this.workerShare = workerShare;
        this.poolLimit = poolLimit;
        this.poolIdleMillis = poolIdleMillis;
        this.clock = clock;
    }

    long budget() {
        return budget;
    }

    /** Real bytes allocated now: buffers in use and pooled. */
    synchronized long committed() {
        return committed;
    }

    /** Bytes of free buffers kept for reuse. */
    synchronized long pooled() {
        return pooled;
    }

    /** A buffer for an update of {@code size} bytes; nothing is allocated yet. */
    Buffer open(String token, String worker, long size) {
        if (size < 1) {
            throw new IllegalArgumentException("size < 1: " + size);
        }
        return new Buffer(token, worker, size);
    }

    /** Frees pooled buffers unused for longer than the pool's idle time. */
    void trim() {
        List<Block> gone = new ArrayList<>();
        synchronized (this) {
            long now = clock.getAsLong();
            free.removeIf(b -> {
                if (now - b.releasedMillis() < poolIdleMillis) {
                    return false;
                }
                drop(b, gone);
                return true;
            });
        }
        closeAll(gone);
    }

    /** Frees every pooled buffer; buffers still in use are freed when they are released. */
    @Override
    public void close() {
        List<Block> gone = new ArrayList<>();
        synchronized (this) {
            free.forEach(b -> drop(b, gone));
            free.clear();
        }
        closeAll(gone);
    }

    private void drop(Block b, List<Block> gone) {
        pooled -= b.size();
        committed -= b.size();
        gone.add(b);
    }

    private static void closeAll(List<Block> blocks) {
        for (Block b : blocks) {
            b.arena().close();
        }
    }

    private static Refusal busy(String what) {
        return Refusal.retryLater(Status.Code.UNAVAILABLE, "busy", what + ": busy, retry later", BUSY_RETRY_MILLIS);
    }

    /**
     * One update's memory, filled in order from offset 0. Not thread-safe: its stream uses it under its own
     * lock. Call order: {@link #reserve} as bytes arrive, then {@link #handOver} when the update leaves the
     * stream, then {@link #release} once (also without a hand-over, when the stream fails).
     */
    final class Buffer {
        private final String token;
        private final String worker;
        private final long size;
        private Block block;
        private boolean handedOver;
        private boolean released;

        private Buffer(String token, String worker, long size) {
            this.token = token;
            this.worker = worker;
            this.size = size;
        }

        /** Bytes this buffer holds in memory now. */
        long capacity() {
            return block == null ? 0 : block.size();
        }

        /**
         * Memory for the first {@code end} bytes: the whole buffer, allocated (or taken from the pool) when the
         * first bytes arrive.
         *
         * @throws Refusal UNAVAILABLE "busy" when the budget, or the token's or worker's share of it, has no room
         */
        MemorySegment reserve(long end) {
            if (end < 0 || end > size) {
                throw new IllegalArgumentException("reserve " + end + " bytes of a buffer of " + size);
            }
            if (block == null && end > 0) {
                Block b = takeFree();
                block = b != null ? b : allocate();
            }
            return block == null ? MemorySegment.NULL : block.segment();
        }

        /** The update's image, once every byte has arrived. */
        MemorySegment image() {
            if (capacity() < size) {
                throw new IllegalStateException("image of " + size + " bytes with " + capacity() + " reserved");
            }
            return block.segment().asSlice(0, size);
        }

        /** The update left its stream: its memory no longer counts against the token's and worker's shares. */
        void handOver() {
            synchronized (ReceiveBuffers.this) {
                if (!handedOver) {
                    hold(-capacity());
                    handedOver = true;
                }
            }
        }

        /** Nothing reads this buffer any more: its memory goes back to the pool, or is freed. */
        void release() {
            List<Block> gone = new ArrayList<>();
            synchronized (ReceiveBuffers.this) {
                if (released) {
                    return;
                }
                released = true;
                handOver();
                if (block == null) {
                    return;
                }
                if (pooled + block.size() <= poolLimit) {
                    free.add(block.released(clock.getAsLong()));
                    pooled += block.size();
                } else {
                    committed -= block.size();
                    gone.add(block);
                }
                block = null;
            }
            closeAll(gone);
        }

        /** A pooled block of this update's size (or up to a quarter larger), the smallest such. */
        private Block takeFree() {
            synchronized (ReceiveBuffers.this) {
                Block best = null;
                for (Block b : free) {
                    if (b.size() >= size && b.size() <= size + size / 4 && (best == null || b.size() < best.size())) {
                        best = b;
                    }
                }
                if (best == null || !fitsShares(best.size())) {
                    return null;
                }
                free.remove(best);
                pooled -= best.size();
                hold(best.size());
                return best;
            }
        }

        private Block allocate() {
            List<Block> gone = new ArrayList<>();
            try {
                synchronized (ReceiveBuffers.this) {
                    String problem = shareProblem(size);
                    if (problem != null) {
                        throw busy(problem);
                    }
                    while (committed + size > budget && !free.isEmpty()) {
                        drop(free.removeFirst(), gone);
                    }
                    if (committed + size > budget) {
                        throw busy("receive memory: " + committed + " of " + budget + " bytes committed, " + size + " more needed");
                    }
                    committed += size;
                    hold(size);
                }
            } finally {
                closeAll(gone);
            }
            try {
                Arena arena = Arena.ofShared();
                return new Block(arena, arena.allocate(size, 64), 0);
            } catch (OutOfMemoryError e) {
                synchronized (ReceiveBuffers.this) {
                    committed -= size;
                    hold(-size);
                }
                throw busy("no native memory for an update of " + size + " bytes");
            }
        }

        /** Whether this stream may hold {@code total} bytes within its token's and worker's shares. */
        private boolean fitsShares(long total) {
            return shareProblem(total) == null;
        }

        private String shareProblem(long total) {
            if (handedOver) {
                return null;
            }
            long more = total - capacity();
            long t = tokenBytes.getOrDefault(token, 0L) + more;
            if (t > tokenShare) {
                return "this token's streams would hold " + t + " bytes > its share " + tokenShare;
            }
            long w = workerBytes.getOrDefault(worker, 0L) + more;
            if (w > workerShare) {
                return "worker " + worker + "'s streams would hold " + w + " bytes > its share " + workerShare;
            }
            return null;
        }

        private void hold(long delta) {
            if (handedOver || delta == 0) {
                return;
            }
            tokenBytes.merge(token, delta, (a, b) -> a + b == 0 ? null : a + b);
            workerBytes.merge(worker, delta, (a, b) -> a + b == 0 ? null : a + b);
        }
    }
}
