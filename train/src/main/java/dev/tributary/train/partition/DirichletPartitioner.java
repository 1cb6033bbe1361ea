package dev.tributary.train.partition;

import java.util.SplittableRandom;

/**
 * Label skew: each class is divided among the clients in proportions drawn from a symmetric
 * Dirichlet(α). A draw that leaves some client empty is redrawn, up to {@value #MAX_DRAWS} times.
 */
final class DirichletPartitioner implements Partitioner {
    static final int MAX_DRAWS = 100;

    private final double alpha;

    DirichletPartitioner(double alpha) {
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("dirichlet alpha must be a finite number > 0: " + alpha);
        }
        this.alpha = alpha;
    }

    @Override
    public int[][] split(int[] labels, int clients, long seed) {
        Splits.checkArgs(labels, clients);
        int[][] byClass = indicesByClass(labels);
        SplittableRandom rng = new SplittableRandom(seed);
        for (int draw = 0; draw < MAX_DRAWS; draw++) {
            int[][] parts = drawOnce(byClass, clients, rng);
            boolean everyoneHasData = true;
            for (int[] p : parts) {
                everyoneHasData &= p.length > 0;
            }
            if (everyoneHasData) {
                return Splits.sorted(parts);
            }
        }
        throw new IllegalArgumentException("dirichlet(" + alpha + ") over " + clients + " clients and "
                + labels.length + " examples left a client empty in " + MAX_DRAWS
                + " draws; use a larger alpha or fewer clients");
    }

    @Override
    public String describe() {
        return "dirichlet(" + alpha + ")";
    }

    private int[][] drawOnce(int[][] byClass, int clients, SplittableRandom rng) {
        int[] sizes = new int[clients];
        int[][] cutsByClass = new int[byClass.length][];
        int[][] shuffled = new int[byClass.length][];
        for (int k = 0; k < byClass.length; k++) {
            int[] members = byClass[k].clone();
            Splits.shuffle(members, rng);
            shuffled[k] = members;
            double[] p = sampleDirichlet(clients, rng);
            int[] cuts = new int[clients + 1];
            double cum = 0;
            for (int c = 0; c < clients; c++) {
                cum += p[c];
                cuts[c + 1] = c == clients - 1 ? members.length
                        : (int) Math.min(members.length, Math.round(cum * members.length));
                sizes[c] += cuts[c + 1] - cuts[c];
            }
            cutsByClass[k] = cuts;
        }
        int[][] parts = new int[clients][];
        int[] fill = new int[clients];
        for (int c = 0; c < clients; c++) {
            parts[c] = new int[sizes[c]];
        }
        for (int k = 0; k < byClass.length; k++) {
            int[] cuts = cutsByClass[k];
            for (int c = 0; c < clients; c++) {
                int n = cuts[c + 1] - cuts[c];
                System.arraycopy(shuffled[k], cuts[c], parts[c], fill[c], n);
                fill[c] += n;
            }
        }
        return parts;
    }

    /** A symmetric Dirichlet(α) sample, computed from log-gamma variates so that tiny α cannot underflow. */
    private double[] sampleDirichlet(int n, SplittableRandom rng) {
        double[] logG = new double[n];
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            logG[i] = logGamma(alpha, rng);
            max = Math.max(max, logG[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            logG[i] = Math.exp(logG[i] - max);
            sum += logG[i];
        }
        for (int i = 0; i < n; i++) {
            logG[i] /= sum;
        }
        return logG;
    }

    /**
     * log of a Gamma(shape, 1) variate: Marsaglia–Tsang for shape ≥ 1; below 1 the boost
     * Gamma(a) = Gamma(a + 1)·U^(1/a), kept in logs.
     */
    static double logGamma(double shape, SplittableRandom rng) {
        if (shape < 1) {
            double u = 1.0 - rng.nextDouble(); // (0, 1]
            return logGamma(shape + 1, rng) + Math.log(u) / shape;
        }
        double d = shape - 1.0 / 3.0;
        double c = 1.0 / Math.sqrt(9 * d);
        while (true) {
            double x = rng.nextGaussian();
            double v = 1 + c * x;
            if (v <= 0) {
                continue;
            }
            v = v * v * v;
            double u = rng.nextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
                return Math.log(d * v);
            }
        }
    }

    private static int[][] indicesByClass(int[] labels) {
        int classes = 0;
        for (int l : labels) {
            classes = Math.max(classes, l + 1);
        }
        int[] counts = new int[classes];
        for (int l : labels) {
            counts[l]++;
        }
        int[][] out = new int[classes][];
        for (int k = 0; k < classes; k++) {
            out[k] = new int[counts[k]];
        }
        int[] fill = new int[classes];
        for (int i = 0; i < labels.length; i++) {
            out[labels[i]][fill[labels[i]]++] = i;
        }
        return out;
    }
}
