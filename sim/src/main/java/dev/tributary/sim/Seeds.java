package dev.tributary.sim;

import java.util.UUID;

/**
 * Derives independent, reproducible seeds from the run's seed and a purpose, so that adding a draw in
 * one place never shifts the numbers drawn in another.
 */
final class Seeds {
    static final long SPEEDS = 1;
    static final long CHURN = 2;
    static final long PLAN = 3;
    static final long UPDATE_ID = 4;
    static final long MODEL = 5;
    static final long SAMPLE = 6;
    static final long RELAY = 7;

    private Seeds() {}

    /** A well-mixed 64-bit value of {@code parts}, in order. */
    static long mix(long... parts) {
        long h = 0x9E3779B97F4A7C15L;
        for (long p : parts) {
            h = fmix(h ^ fmix(p + 0x632BE59BD9B4E019L));
        }
        return h;
    }

    /** A version-4-shaped UUID drawn from {@code parts}: the validator wants update ids to be UUIDs. */
    static UUID uuid(long... parts) {
        long hi = mix(parts);
        long lo = fmix(hi ^ 0xD1B54A32D192ED03L);
        hi = (hi & ~0xF000L) | 0x4000L;
        lo = (lo & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
        return new UUID(hi, lo);
    }

    /** MurmurHash3's 64-bit finalizer. */
    private static long fmix(long k) {
        k ^= k >>> 33;
        k *= 0xFF51AFD7ED558CCDL;
        k ^= k >>> 33;
        k *= 0xC4CEB9FE1A85EC53L;
        k ^= k >>> 33;
        return k;
    }
}
