package dev.tributary.coordinator.service;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * Off-heap buffers that pushed updates are received into, reused instead of allocated per update:
 * fresh native memory must be zeroed and faulted in, which costs as much as receiving the bytes. A
 * buffer comes back once nothing reads it any more (the strategy let go of the delta at a publish, and
 * the log has written it). Buffers that are never given back are freed by the garbage collector.
 */
final class ReceiveBuffers {
    /** A buffer on loan: {@code data} is the part in use, {@code base} what goes back. */
    record Lease(MemorySegment base, MemorySegment data) {}

    private final long capacity;
    private final int keep;
    private final ArrayDeque<MemorySegment> free = new ArrayDeque<>();

    /**
     * @param capacity size of pooled buffers (the largest update accepted)
     * @param keep     free buffers kept at most
     */
    ReceiveBuffers(long capacity, int keep) {
        this.capacity = capacity;
        this.keep = keep;
    }

    Lease acquire(long size) {
        if (size > capacity) {
            throw new IllegalArgumentException("buffer of " + size + " bytes > capacity " + capacity);
        }
        MemorySegment base;
        synchronized (this) {
            base = free.poll();
        }
        if (base == null) {
            base = Arena.ofAuto().allocate(capacity, 64);
        }
        return new Lease(base, base.asSlice(0, size));
    }

    void release(Lease lease) {
        synchronized (this) {
            if (free.size() < keep) {
                free.push(lease.base());
            }
        }
    }
}
