package dev.tributary.replay;

/**
 * The random draws of the samplers: draw number n of a table seeded with s is a function of (s, n) alone
 * (SplitMix64's finalizer), so no generator state has to be checkpointed or replayed: the count of samples
 * is enough.
 */
final class Draws {
    private Draws() {}

    /** A double in [0, 1). */
    static double unit(long seed, long n) {
        long z = seed + (n + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return (z >>> 11) * 0x1.0p-53;
    }
}
