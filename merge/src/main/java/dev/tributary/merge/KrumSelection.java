package dev.tributary.merge;

import dev.tributary.tensor.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Comparator;

/**
 * The shared first pass of krum and multi-krum (Flower's {@code aggregate_krum}): squared L2 distances
 * between the models flattened whole, accumulated tensor by tensor so the model never has to be
 * resident at once; then each model's score is the sum of its distances to its max(1, N − f − 2)
 * nearest others, and models are ranked by score (ties to the earlier model).
 *
 * <p>The second pass averages the {@code keep} best models weighted by their {@code weight}; krum keeps one.
 */
final class KrumSelection implements Kernel {
    private final int byzantine;
    private final int keep;
    private final double[] weights;
    private final double[][] distances;
    private float[] coefficients;

    KrumSelection(int models, int byzantine, int keep, double[] weights) {
        this.byzantine = byzantine;
        this.keep = keep;
        this.weights = weights.clone();
        this.distances = new double[models][models];
    }

    @Override
    public boolean twoPass() {
        return true;
    }

    @Override
    public void observe(F32Inputs in) {
        if (coefficients != null) {
            throw new IllegalStateException("krum: tensor " + in.name() + " observed after merging started");
        }
        long n = in.numel();
        int m = in.count();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment diff = F32.allocate(arena, n);
            for (int i = 0; i < m; i++) {
                for (int k = i + 1; k < m; k++) {
                    F32.sub(in.model(i), in.model(k), diff, n);
                    double norm = Kernels.l2Norm(diff, n);
                    distances[i][k] += norm * norm;
                    distances[k][i] = distances[i][k];
                }
            }
        }
    }

    @Override
    public MemorySegment merge(F32Inputs in, Arena arena) {
        if (coefficients == null) {
            coefficients = select();
        }
        return new Linear.WeightedSum(coefficients).merge(in, arena);
    }

    /** Krum scores of the models seen so far, in input order. */
    double[] scores() {
        int m = distances.length;
        int closest = Math.max(1, m - byzantine - 2);
        double[] scores = new double[m];
        for (int i = 0; i < m; i++) {
            double[] others = new double[m - 1];
            for (int k = 0, o = 0; k < m; k++) {
                if (k != i) {
                    others[o++] = distances[i][k];
                }
            }
            Arrays.sort(others);
            for (int k = 0; k < Math.min(closest, others.length); k++) {
                scores[i] += others[k];
            }
        }
        return scores;
    }

    private float[] select() {
        double[] scores = scores();
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.<Integer>comparingDouble(i -> scores[i]).thenComparingInt(i -> i));
        double total = 0;
        for (int r = 0; r < keep; r++) {
            total += weights[order[r]];
        }
        float[] c = new float[scores.length];
        for (int r = 0; r < keep; r++) {
            c[order[r]] = (float) (keep == 1 ? 1.0 : weights[order[r]] / total);
        }
        return c;
    }
}
