package dev.tributary.merge;

import java.nio.charset.StandardCharsets;

/**
 * The random stream of the DARE methods: a counter-based generator, so that whether entry {@code j} of
 * tensor {@code name} of model {@code i} is kept depends only on (seed, name, i, j), never on the order
 * in which tensors are merged or on threads.
 *
 * <p>Definition (reproducible in any language with 64-bit wrapping arithmetic): {@code mix} is the
 * SplitMix64 finalizer, {@code G = 0x9E3779B97F4A7C15}, {@code h} the 64-bit FNV-1a hash of the name's
 * UTF-8 bytes; {@code key = mix(seed ^ mix(h + G·(i+1)))}; {@code u_j = (mix(key + G·(j+1)) >>> 40) / 2^24};
 * entry j is kept when {@code u_j < density}.
 */
final class DareRandom {
    static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

    private DareRandom() {}

    static long key(long seed, String tensor, int model) {
        return mix(seed ^ mix(fnv1a(tensor) + GOLDEN * (model + 1L)));
    }

    /** Uniform in [0, 1) with 24 bits, for entry {@code j} of the stream {@code key}. */
    static double uniform(long key, long j) {
        return (mix(key + GOLDEN * (j + 1)) >>> 40) * 0x1.0p-24;
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58_476D_1CE4_E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D0_49BB_1331_11EBL;
        return z ^ (z >>> 31);
    }

    static long fnv1a(String s) {
        long h = 0xCBF2_9CE4_8422_2325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x0000_0100_0000_01B3L;
        }
        return h;
    }
}
