package dev.tributary.sim;

import java.util.HashMap;
import java.util.Map;

/**
 * Bytes moved per virtual second: each transfer counts, whole, in the one-second window [k, k+1) where it
 * completes, so the peak is the most bytes a coordinator's link carries within any such second.
 */
final class Traffic {
    private final Map<Long, Long> perSecond = new HashMap<>();
    private long peak;

    /** Counts {@code bytes} completing at virtual time {@code at}. */
    void add(double at, long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes < 0: " + bytes);
        }
        long total = perSecond.merge((long) Math.floor(at), bytes, Long::sum);
        peak = Math.max(peak, total);
    }

    /** The most bytes of any one-second window so far. */
    long peakPerSecond() {
        return peak;
    }
}
