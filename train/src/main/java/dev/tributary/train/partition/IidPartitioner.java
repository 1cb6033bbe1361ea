package dev.tributary.train.partition;

import java.util.Arrays;
import java.util.SplittableRandom;

/** Shuffle, then cut into near-equal parts. */
final class IidPartitioner implements Partitioner {

    @Override
    public int[][] split(int[] labels, int clients, long seed) {
        Splits.checkArgs(labels, clients);
        int[] order = Splits.range(labels.length);
        Splits.shuffle(order, new SplittableRandom(seed));
        int[] cuts = Splits.evenCuts(order.length, clients);
        int[][] parts = new int[clients][];
        for (int c = 0; c < clients; c++) {
            parts[c] = Arrays.copyOfRange(order, cuts[c], cuts[c + 1]);
        }
        return Splits.sorted(parts);
    }

    @Override
    public String describe() {
        return "iid";
    }
}
