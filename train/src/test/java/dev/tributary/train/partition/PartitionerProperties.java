package dev.tributary.train.partition;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

class PartitionerProperties {

    /** Labels of a random data set with a random number of classes. */
    static int[] labels(int n, int classes, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = rng.nextInt(classes);
        }
        return out;
    }

    @Provide
    Arbitrary<Partitioner> partitioners() {
        return Arbitraries.oneOf(
                Arbitraries.just(Partitioner.iid()),
                Arbitraries.doubles().between(0.05, 10).map(Partitioner::dirichlet),
                Arbitraries.integers().between(1, 4).map(Partitioner::shards));
    }

    @Property(tries = 200)
    void partsAreDisjointSortedNonEmptyAndCoverTheData(@ForAll("partitioners") Partitioner p,
            @ForAll @IntRange(min = 50, max = 600) int n, @ForAll @IntRange(min = 1, max = 10) int classes,
            @ForAll @IntRange(min = 1, max = 12) int clients, @ForAll @LongRange(min = 0, max = 1000) long seed) {
        int[] labels = labels(n, classes, seed);
        int[][] parts;
        try {
            parts = p.split(labels, clients, seed);
        } catch (IllegalArgumentException e) {
            // Only the Dirichlet split may give up, and only after its redraws, with that message.
            assertTrue(p instanceof DirichletPartitioner && e.getMessage().contains("left a client empty"),
                    p.describe() + ": " + e.getMessage());
            return;
        }
        assertEquals(clients, parts.length);
        boolean[] seen = new boolean[n];
        int total = 0;
        for (int[] part : parts) {
            assertTrue(part.length > 0, p.describe() + ": empty client");
            for (int k = 0; k < part.length; k++) {
                assertTrue(k == 0 || part[k - 1] < part[k], "not sorted");
                assertTrue(!seen[part[k]], p.describe() + ": index " + part[k] + " given twice");
                seen[part[k]] = true;
            }
            total += part.length;
        }
        assertEquals(n, total, p.describe() + ": not every example was given out");
    }

    @Property(tries = 50)
    void sameSeedSameSplit(@ForAll("partitioners") Partitioner p, @ForAll @LongRange(min = 0, max = 1000) long seed) {
        int[] labels = labels(300, 10, 1);
        int[][] a = p.split(labels, 5, seed);
        int[][] b = p.split(labels, 5, seed);
        for (int c = 0; c < a.length; c++) {
            assertArrayEquals(a[c], b[c]);
        }
    }

    @Property(tries = 30)
    void iidPartsDifferInSizeByAtMostOne(@ForAll @IntRange(min = 1, max = 40) int clients,
            @ForAll @LongRange(min = 0, max = 1000) long seed) {
        int[][] parts = Partitioner.iid().split(labels(1000, 10, seed), clients, seed);
        int min = Integer.MAX_VALUE;
        int max = 0;
        for (int[] part : parts) {
            min = Math.min(min, part.length);
            max = Math.max(max, part.length);
        }
        assertTrue(max - min <= 1, min + ".." + max);
    }

    @Property(tries = 20)
    void shardsGiveEachClientAtMostKLabels(@ForAll @LongRange(min = 0, max = 1000) long seed) {
        // 10 classes of 60 examples cut into 20 shards of 30: no shard straddles two classes.
        int[] labels = new int[600];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = i % 10;
        }
        for (int k : new int[] {1, 2, 4, 5}) {
            int[][] parts = Partitioner.shards(k).split(labels, 20 / k, seed);
            for (int[] part : parts) {
                assertEquals(30 * k, part.length);
                assertTrue(distinctLabels(labels, part) <= k, "a client holds more than " + k + " labels");
            }
        }
    }

    /** Mean over clients of the fraction of the client's data in its most common class. */
    static double meanTopClassShare(int[] labels, int[][] parts) {
        double sum = 0;
        for (int[] part : parts) {
            int[] count = new int[10];
            int top = 0;
            for (int i : part) {
                top = Math.max(top, ++count[labels[i]]);
            }
            sum += top / (double) part.length;
        }
        return sum / parts.length;
    }

    @Property(tries = 10)
    void smallAlphaSkewsLabelsLargeAlphaDoesNot(@ForAll @LongRange(min = 0, max = 1000) long seed) {
        int[] labels = labels(6000, 10, seed);
        double skewed = meanTopClassShare(labels, Partitioner.dirichlet(0.1).split(labels, 20, seed));
        double mild = meanTopClassShare(labels, Partitioner.dirichlet(100).split(labels, 20, seed));
        double iid = meanTopClassShare(labels, Partitioner.iid().split(labels, 20, seed));
        // Dir(0.1) over 10 classes puts most of a client's data in one or two classes: its mean top-class share
        // ranges about 0.45-0.7 over seeds (0.486 at one seed), against about 0.1-0.2 for iid shards.
        assertTrue(skewed > 0.4 && skewed > 2.5 * iid, "dirichlet(0.1) top-class share " + skewed + ", iid " + iid);
        assertTrue(mild < 0.2 && iid < 0.2, "dirichlet(100) " + mild + ", iid " + iid);
    }

    private static int distinctLabels(int[] labels, int[] part) {
        boolean[] has = new boolean[10];
        int n = 0;
        for (int i : part) {
            if (!has[labels[i]]) {
                has[labels[i]] = true;
                n++;
            }
        }
        return n;
    }
}
