package dev.tributary.train.partition;

import java.util.Locale;

/**
 * Splits a labelled data set among clients, the way federated-learning experiments simulate data that is
 * spread unevenly across devices.
 *
 * <p>Every implementation returns, for each client, the sorted indices of its examples; the lists are
 * disjoint, every client gets at least one example, and together they cover the data set. The split is a
 * pure function of the labels, the client count and the seed.
 */
public interface Partitioner {

    /**
     * @param labels  class label of each example, 0 or more
     * @param clients number of clients, at least 1 and at most {@code labels.length}
     * @param seed    seed of every random choice
     * @return {@code clients} arrays of example indices, each sorted ascending
     * @throws IllegalArgumentException when the split cannot give every client an example
     */
    int[][] split(int[] labels, int clients, long seed);

    /** A short description, e.g. {@code dirichlet(0.3)}. */
    String describe();

    /** Uniformly random, near-equal parts (sizes differ by at most one). */
    static Partitioner iid() {
        return new IidPartitioner();
    }

    /**
     * Label skew: for each class, the class's examples are divided among clients in proportions drawn
     * from a symmetric Dirichlet(α); small α gives each client few classes.
     */
    static Partitioner dirichlet(double alpha) {
        return new DirichletPartitioner(alpha);
    }

    /**
     * Pathological label skew (McMahan et al.): sort by label, cut into {@code clients × shardsPerClient}
     * shards of near-equal size, deal {@code shardsPerClient} random shards to each client.
     */
    static Partitioner shards(int shardsPerClient) {
        return new ShardPartitioner(shardsPerClient);
    }

    /**
     * Parses {@code iid}, {@code dirichlet:ALPHA} or {@code shards:K} (any case).
     *
     * @throws IllegalArgumentException naming the spec and the accepted forms
     */
    static Partitioner parse(String spec) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        String kind = colon < 0 ? s : s.substring(0, colon);
        String arg = colon < 0 ? null : s.substring(colon + 1);
        try {
            switch (kind) {
                case "iid":
                    if (arg == null) {
                        return iid();
                    }
                    break;
                case "dirichlet":
                    if (arg != null) {
                        return dirichlet(Double.parseDouble(arg));
                    }
                    break;
                case "shards":
                    if (arg != null) {
                        return shards(Integer.parseInt(arg));
                    }
                    break;
                default:
                    break;
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("partition \"" + spec + "\": " + arg + " is not a number");
        }
        throw new IllegalArgumentException("partition \"" + spec + "\": expected iid, dirichlet:ALPHA or shards:K");
    }
}
