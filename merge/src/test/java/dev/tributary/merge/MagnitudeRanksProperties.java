package dev.tributary.merge;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The radix-select thinning agrees with a stable descending sort, duplicates and signed zeros included. */
class MagnitudeRanksProperties {

    @Provide
    Arbitrary<float[]> values() {
        Arbitrary<Float> few = Arbitraries.of(0f, -0f, 1f, -1f, 0.5f, -2f, 3f, 1e-30f, -1e-30f, Float.MIN_VALUE);
        Arbitrary<Float> any = Arbitraries.floats().between(-1e6f, 1e6f);
        return Arbitraries.oneOf(few, any).list().ofMinSize(1).ofMaxSize(300).map(MagnitudeRanksProperties::toArray);
    }

    private static float[] toArray(List<Float> list) {
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = list.get(i);
        }
        return out;
    }

    @Property(tries = 300)
    void keepsExactlyTheRanksOfAStableDescendingSort(@ForAll("values") float[] x,
                                                     @ForAll double fromFraction, @ForAll double lengthFraction) {
        int n = x.length;
        long from = (long) Math.floor(Math.abs(fromFraction) % 1.0 * (n + 1));
        long to = from + (long) Math.floor(Math.abs(lengthFraction) % 1.0 * (n + 1));
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> -Math.abs(x[i])).thenComparingInt(i -> i));
        long[] rank = new long[n];
        for (int r = 0; r < n; r++) {
            rank[order[r]] = r;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = F32.allocate(arena, n);
            for (int i = 0; i < n; i++) {
                F32.set(seg, i, x[i]);
            }
            MagnitudeRanks.keepRange(seg, n, from, to);
            for (int i = 0; i < n; i++) {
                float got = F32.get(seg, i);
                if (from <= rank[i] && rank[i] < to) {
                    assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(got), "kept entry " + i);
                } else {
                    assertEquals(0f, Math.abs(got), 0f, "dropped entry " + i + " (rank " + rank[i] + ")");
                }
            }
        }
    }
}
