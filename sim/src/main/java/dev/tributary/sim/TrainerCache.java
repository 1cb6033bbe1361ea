package dev.tributary.sim;

import dev.tributary.worker.LocalTrainer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The trainers of the clients trained most recently, so that a few clients reuse theirs while a
 * thousand never hold a thousand trainers (and their native memory) at once. Closes what it evicts.
 */
final class TrainerCache implements AutoCloseable {
    private final int capacity;
    private final IntFunction<LocalTrainer> factory;
    private final LinkedHashMap<Integer, LocalTrainer> open = new LinkedHashMap<>(16, 0.75f, true);

    TrainerCache(int capacity, IntFunction<LocalTrainer> factory) {
        if (capacity < 1) {
            throw new IllegalArgumentException("trainer cache capacity < 1: " + capacity);
        }
        this.capacity = capacity;
        this.factory = factory;
    }

    /**
     * Trainers a workload keeps for {@code config}: {@code dflt}, or every client's under DiLoCo, whose
     * replicas live inside their trainers for the whole run, and when clients train on several threads
     * (a trainer in use must not be evicted).
     */
    static int capacity(SimConfig config, int dflt) {
        boolean all = config.strategy().equals("diloco") || config.threads() > 1;
        return all ? Math.max(dflt, config.clients()) : dflt;
    }

    /** Client {@code client}'s trainer, made if needed. */
    synchronized LocalTrainer get(int client) {
        LocalTrainer t = open.get(client);
        if (t == null) {
            if (open.size() >= capacity) {
                Map.Entry<Integer, LocalTrainer> eldest = open.entrySet().iterator().next();
                open.remove(eldest.getKey());
                eldest.getValue().close();
            }
            t = factory.apply(client);
            open.put(client, t);
        }
        return t;
    }

    /** Trainers held now. */
    synchronized int size() {
        return open.size();
    }

    @Override
    public synchronized void close() {
        for (LocalTrainer t : open.values()) {
            t.close();
        }
        open.clear();
    }
}
