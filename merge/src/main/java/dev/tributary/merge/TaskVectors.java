package dev.tributary.merge;

import dev.tributary.tensor.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The task-arithmetic family (mergekit's generalized task arithmetic): deltas δᵢ = θᵢ − θ_base, thinned
 * by a {@link Sparsification}, weighted, optionally combined under TIES sign consensus, and added back
 * to the base scaled by λ. The eight methods of the family differ only in the sparsification, the
 * consensus and their defaults; each is declared in its own file through {@link #globals} and
 * {@link #perModel}.
 */
final class TaskVectors {
    private static final double DIVISOR_EPS = 1e-8;

    private TaskVectors() {}

    static List<ParamDef> globals(Sparsification s, boolean normalize, boolean rescale) {
        List<ParamDef> defs = new ArrayList<>(List.of(
                ParamDef.number("lambda", 1.0),
                ParamDef.bool("normalize", normalize),
                ParamDef.bool("int8_mask", false)));
        if (s != Sparsification.NONE) {
            defs.add(ParamDef.bool("rescale", rescale));
        }
        if (s == Sparsification.RANDOM || s == Sparsification.MAGPRUNE) {
            defs.add(ParamDef.integer("seed", 0));
        }
        return defs;
    }

    static List<ParamDef> perModel(Sparsification s) {
        List<ParamDef> defs = new ArrayList<>(List.of(ParamDef.requiredNumber("weight")));
        if (s != Sparsification.NONE) {
            defs.add(ParamDef.number("density", 1.0));
        }
        if (s == Sparsification.MAGNITUDE_OUTLIERS) {
            defs.add(ParamDef.number("gamma", 0.01));
        }
        if (s == Sparsification.MAGPRUNE) {
            defs.add(ParamDef.number("epsilon", 0.15));
        }
        return defs;
    }

    static Kernel kernel(Bound p, Sparsification s, boolean consensus) {
        int n = p.models();
        double[] weights = p.modelNumbers("weight");
        Sparsification.Thinning[] thinning = new Sparsification.Thinning[n];
        for (int i = 0; i < n; i++) {
            double density = s != Sparsification.NONE ? fraction(p, i, "density") : 1;
            double gamma = s == Sparsification.MAGNITUDE_OUTLIERS ? fraction(p, i, "gamma") : 0;
            double epsilon = s == Sparsification.MAGPRUNE ? epsilon(p, i, density) : 0;
            thinning[i] = new Sparsification.Thinning(density, gamma, epsilon);
        }
        boolean rescale = s != Sparsification.NONE && p.bool("rescale");
        long seed = s == Sparsification.RANDOM || s == Sparsification.MAGPRUNE ? p.integer("seed") : 0;
        return new Mix(s, consensus, weights, thinning, p.number("lambda"), p.bool("normalize"), rescale, seed);
    }

    /** mergekit's rule: when 0 &lt; density &lt; 1, density ± epsilon must lie in (0, 1). */
    private static double epsilon(Bound p, int model, double density) {
        double e = p.modelNumber(model, "epsilon");
        if (e < 0) {
            throw p.invalid(model, "epsilon", e + " is negative");
        }
        if (density > 0 && density < 1 && (density + e >= 1 || density - e <= 0)) {
            throw p.invalid(model, "epsilon", e + " with density " + density
                    + " puts density ± epsilon outside (0, 1)");
        }
        return e;
    }

    private static double fraction(Bound p, int model, String key) {
        double v = p.modelNumber(model, key);
        if (v < 0 || v > 1) {
            throw p.invalid(model, key, v + " is outside [0, 1]");
        }
        return v;
    }

    private record Mix(Sparsification sparsification, boolean consensus, double[] weights,
                       Sparsification.Thinning[] thinning, double lambda, boolean normalize, boolean rescale,
                       long seed) implements Kernel {

        @Override
        public MemorySegment merge(F32Inputs in, Arena arena) {
            return consensus ? mergeConsensus(in, arena) : mergeLinear(in, arena);
        }

        private void delta(F32Inputs in, int i, MemorySegment into) {
            long n = in.numel();
            F32.sub(in.model(i), in.base(), into, n);
            sparsification.apply(into, in.shape(), n, thinning[i], rescale, DareRandom.key(seed, in.name(), i));
        }

        /** One delta at a time: base + λ·Σ wᵢδ̂ᵢ / D, with D = Σwᵢ when normalizing (1 when |Σwᵢ| < 1e-8). */
        private MemorySegment mergeLinear(F32Inputs in, Arena arena) {
            long n = in.numel();
            double total = 0;
            for (double w : weights) {
                total += w;
            }
            double divisor = normalize && Math.abs(total) >= DIVISOR_EPS ? total : 1;
            MemorySegment out = F32.copy(in.base(), n, arena);
            MemorySegment scratch = F32.allocate(arena, n);
            for (int i = 0; i < in.count(); i++) {
                delta(in, i, scratch);
                Kernels.axpy((float) (lambda * weights[i] / divisor), scratch, out, n);
            }
            return out;
        }

        /**
         * TIES: dᵢ = wᵢδ̂ᵢ; γ = +1 where Σdᵢ ≥ 0 else −1; only dᵢ whose sign is γ count (zeros never do);
         * mixed = Σ dᵢ over those, divided by the sum of their weights when normalizing (0 becomes 1).
         */
        private MemorySegment mergeConsensus(F32Inputs in, Arena arena) {
            long n = in.numel();
            int m = in.count();
            MemorySegment[] deltas = new MemorySegment[m];
            for (int i = 0; i < m; i++) {
                deltas[i] = F32.allocate(arena, n);
                delta(in, i, deltas[i]);
            }
            MemorySegment base = in.base();
            MemorySegment out = F32.allocate(arena, n);
            double[] d = new double[m];
            for (long j = 0; j < n; j++) {
                double sum = 0;
                for (int i = 0; i < m; i++) {
                    d[i] = weights[i] * F32.get(deltas[i], j);
                    sum += d[i];
                }
                boolean positive = sum >= 0;
                double mixed = 0;
                double divisor = 0;
                for (int i = 0; i < m; i++) {
                    if (d[i] != 0 && (d[i] > 0) == positive) {
                        mixed += d[i];
                        divisor += weights[i];
                    }
                }
                if (normalize) {
                    mixed /= divisor == 0 ? 1 : divisor;
                }
                F32.set(out, j, (float) (F32.get(base, j) + lambda * mixed));
            }
            return out;
        }
    }
}
