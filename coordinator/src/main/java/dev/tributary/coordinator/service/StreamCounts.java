package dev.tributary.coordinator.service;

import java.util.HashMap;
import java.util.Map;

/** Streams open per key (a token, a worker), each key bounded by the same maximum. */
final class StreamCounts {
    private final int max;
    private final Map<String, Integer> open = new HashMap<>();
    private int total;

    StreamCounts(int max) {
        this.max = max;
    }

    int max() {
        return max;
    }

    /** Counts one more stream under {@code key}; false (nothing counted) when it has {@code max} open. */
    synchronized boolean tryOpen(String key) {
        int n = open.getOrDefault(key, 0);
        if (n >= max) {
            return false;
        }
        open.put(key, n + 1);
        total++;
        return true;
    }

    synchronized void close(String key) {
        Integer n = open.get(key);
        if (n == null) {
            throw new IllegalStateException("no stream open under " + key);
        }
        if (n == 1) {
            open.remove(key);
        } else {
            open.put(key, n - 1);
        }
        total--;
    }

    /** Streams open under all keys together. */
    synchronized int total() {
        return total;
    }
}
