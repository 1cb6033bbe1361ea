package dev.tributary.train.partition;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;

/** Sort by label, cut into shards, deal a fixed number of random shards to each client. */
final class ShardPartitioner implements Partitioner {
    private final int perClient;

    ShardPartitioner(int perClient) {
        if (perClient < 1) {
            throw new IllegalArgumentException("shards per client < 1: " + perClient);
        }
        this.perClient = perClient;
    }

    @Override
    public int[][] split(int[] labels, int clients, long seed) {
        Splits.checkArgs(labels, clients);
        long shards = (long) clients * perClient;
        if (shards > labels.length) {
            throw new IllegalArgumentException(clients + " clients × " + perClient + " shards need at least "
                    + shards + " examples, got " + labels.length);
        }
        Integer[] byLabel = new Integer[labels.length];
        for (int i = 0; i < byLabel.length; i++) {
            byLabel[i] = i;
        }
        // Stable sort: within a label, examples keep their order in the data set.
        Arrays.sort(byLabel, Comparator.comparingInt(i -> labels[i]));
        int[] cuts = Splits.evenCuts(labels.length, (int) shards);
        int[] shardOrder = Splits.range((int) shards);
        Splits.shuffle(shardOrder, new SplittableRandom(seed));
        int[][] parts = new int[clients][];
        for (int c = 0; c < clients; c++) {
            int size = 0;
            for (int k = 0; k < perClient; k++) {
                int s = shardOrder[c * perClient + k];
                size += cuts[s + 1] - cuts[s];
            }
            int[] part = new int[size];
            int at = 0;
            for (int k = 0; k < perClient; k++) {
                int s = shardOrder[c * perClient + k];
                for (int j = cuts[s]; j < cuts[s + 1]; j++) {
                    part[at++] = byLabel[j];
                }
            }
            parts[c] = part;
        }
        return Splits.sorted(parts);
    }

    @Override
    public String describe() {
        return "shards(" + perClient + ")";
    }
}
