package dev.tributary.rl.learner;

import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * The actors seen lately: an actor counts as live for {@code window} milliseconds after its last
 * registration, pull or push. Bounded: beyond {@value #MAX_ACTORS} entries the stale ones are dropped.
 */
final class ActorRegistry {
    static final int MAX_ACTORS = 10_000;

    private final long windowMillis;
    private final LongSupplier clock;
    private final ConcurrentHashMap<String, Long> lastSeen = new ConcurrentHashMap<>();

    ActorRegistry(long windowMillis, LongSupplier clock) {
        this.windowMillis = windowMillis;
        this.clock = clock;
    }

    /** A new actor id. */
    String register() {
        String id = UUID.randomUUID().toString();
        touch(id);
        return id;
    }

    /** Marks {@code id} as seen now (an id the learner did not hand out counts too: it may predate a restart). */
    void touch(String id) {
        if (id.isEmpty()) {
            return;
        }
        if (lastSeen.size() >= MAX_ACTORS) {
            long now = clock.getAsLong();
            lastSeen.values().removeIf(t -> now - t > windowMillis);
            if (lastSeen.size() >= MAX_ACTORS) {
                return;
            }
        }
        lastSeen.put(id, clock.getAsLong());
    }

    /** Actors seen within the window. */
    int live() {
        long now = clock.getAsLong();
        return (int) lastSeen.values().stream().filter(t -> now - t <= windowMillis).count();
    }
}
