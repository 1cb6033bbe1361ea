package dev.tributary.merge;

import java.lang.foreign.MemorySegment;

/**
 * Keeps the entries of a tensor whose rank by magnitude lies in a range, zeroing the rest, in linear
 * time and without sorting or copying: a two-pass radix select on the bits of |x| (for non-negative
 * floats the bit pattern orders like the value).
 *
 * <p>Rank 0 is the largest |x|. Equal magnitudes rank in index order (the lower index ranks first), the
 * order a stable descending sort gives, so which of several equal entries is kept is deterministic.
 */
final class MagnitudeRanks {
    private static final int BINS = 1 << 16;

    private MagnitudeRanks() {}

    /** Zeroes every entry of {@code x} whose magnitude rank is outside {@code [from, to)}. */
    static void keepRange(MemorySegment x, long n, long from, long to) {
        from = Math.max(0, from);
        to = Math.min(n, to);
        if (from >= to) {
            x.fill((byte) 0);
            return;
        }
        if (from == 0 && to == n) {
            return;
        }
        Select lo = from > 0 ? select(x, n, from) : null;
        Select hi = to < n ? select(x, n, to - 1) : null;
        long seenLo = 0;
        long seenHi = 0;
        for (long i = 0; i < n; i++) {
            int key = key(x, i);
            boolean keep = true;
            if (lo != null) {
                if (key > lo.key) {
                    keep = false;
                } else if (key == lo.key) {
                    keep = seenLo >= from - lo.greater;
                    seenLo++;
                }
            }
            if (hi != null) {
                if (key < hi.key) {
                    keep = false;
                } else if (key == hi.key) {
                    keep &= seenHi <= to - 1 - hi.greater;
                    seenHi++;
                }
            }
            if (!keep) {
                F32.set(x, i, 0f);
            }
        }
    }

    /** The magnitude key at {@code rank} and how many entries have a strictly larger key. */
    record Select(int key, long greater) {}

    static Select select(MemorySegment x, long n, long rank) {
        long[] high = new long[BINS];
        for (long i = 0; i < n; i++) {
            high[key(x, i) >>> 16]++;
        }
        long above = 0;
        int h = BINS - 1;
        while (above + high[h] <= rank) {
            above += high[h];
            h--;
        }
        long[] low = new long[BINS];
        for (long i = 0; i < n; i++) {
            int k = key(x, i);
            if (k >>> 16 == h) {
                low[k & 0xFFFF]++;
            }
        }
        int l = BINS - 1;
        while (above + low[l] <= rank) {
            above += low[l];
            l--;
        }
        return new Select((h << 16) | l, above);
    }

    private static int key(MemorySegment x, long i) {
        return Float.floatToRawIntBits(F32.get(x, i)) & 0x7FFF_FFFF;
    }
}
