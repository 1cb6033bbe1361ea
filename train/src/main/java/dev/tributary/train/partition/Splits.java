package dev.tributary.train.partition;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Helpers shared by the partitioners. */
final class Splits {
    private Splits() {}

    static void checkArgs(int[] labels, int clients) {
        if (clients < 1) {
            throw new IllegalArgumentException("clients < 1: " + clients);
        }
        if (clients > labels.length) {
            throw new IllegalArgumentException(clients + " clients need at least " + clients + " examples, got "
                    + labels.length);
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0) {
                throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is negative");
            }
        }
    }

    /** Fisher–Yates shuffle in place. */
    static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    static int[] range(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }

    /** Start offsets of {@code parts} near-equal pieces of {@code n} items, plus {@code n} at the end. */
    static int[] evenCuts(int n, int parts) {
        int[] cuts = new int[parts + 1];
        for (int p = 0; p <= parts; p++) {
            cuts[p] = (int) ((long) n * p / parts);
        }
        return cuts;
    }

    static int[][] sorted(int[][] parts) {
        for (int[] p : parts) {
            Arrays.sort(p);
        }
        return parts;
    }
}
