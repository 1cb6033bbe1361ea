package dev.tributary.coordinator.service;

import dev.tributary.protocol.Capabilities;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The live set: workers that registered and keep heartbeating within their lease. A worker whose lease
 * ran out leaves the set (its updates are still judged on their staleness alone); it registers again
 * when its heartbeat is answered NOT_FOUND. The set holds a bounded number of workers.
 */
final class WorkerRegistry {
    /** One registered worker. */
    record Worker(String id, String name, Capabilities capabilities, long registeredMillis, long leaseUntilMillis) {}

    private final ConcurrentHashMap<String, Worker> workers = new ConcurrentHashMap<>();
    private final Duration lease;
    private final LongSupplier clock;
    private final int maxWorkers;

    WorkerRegistry(Duration lease, LongSupplier clock, int maxWorkers) {
        this.lease = lease;
        this.clock = clock;
        this.maxWorkers = maxWorkers;
    }

    int maxWorkers() {
        return maxWorkers;
    }

    Duration lease() {
        return lease;
    }

    /** A new live worker, or null when {@code maxWorkers} are registered already. */
    synchronized Worker register(String name, Capabilities capabilities) {
        long now = clock.getAsLong();
        if (workers.size() >= maxWorkers) {
            expire(now);
            if (workers.size() >= maxWorkers) {
                return null;
            }
        }
        Worker w = new Worker(UUID.randomUUID().toString(), name, capabilities, now, now + lease.toMillis());
        workers.put(w.id(), w);
        return w;
    }

    /** Renews a live worker's lease; false when the id is unknown or its lease has run out. */
    boolean heartbeat(String id) {
        long now = clock.getAsLong();
        Worker w = workers.computeIfPresent(id, (k, old) -> old.leaseUntilMillis() < now ? null
                : new Worker(old.id(), old.name(), old.capabilities(), old.registeredMillis(), now + lease.toMillis()));
        return w != null;
    }

    /** The name live worker {@code id} registered under, or null when it is unknown or its lease has run out. */
    String liveName(String id) {
        Worker w = workers.get(id);
        return w == null || w.leaseUntilMillis() < clock.getAsLong() ? null : w.name();
    }

    /** Workers whose lease has not run out. */
    List<Worker> live() {
        long now = clock.getAsLong();
        expire(now);
        return List.copyOf(workers.values());
    }

    private void expire(long now) {
        workers.values().removeIf(w -> w.leaseUntilMillis() < now);
    }
}
