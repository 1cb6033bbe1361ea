package dev.tributary.merge;

import java.util.List;

/**
 * Multi-Krum (Flower's {@code aggregate_krum} with {@code num_clients_to_keep}): ranks models by their
 * krum score over the whole flattened model and returns the mean of the {@code keep} best weighted by
 * their {@code weight} (example counts; default 1). {@code keep} defaults to N − f. Two passes.
 */
final class MultiKrum extends Method {
    MultiKrum() {
        super("multi_krum", List.of(ParamDef.integer("byzantine", 0), ParamDef.optionalInteger("keep")),
                List.of(ParamDef.number("weight", 1.0)), false, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        int m = params.models();
        int f = Krum.byzantine(params);
        long keep = params.has("keep") ? params.integer("keep") : m - f;
        if (keep < 1 || keep > m) {
            throw params.invalid("keep", keep + " is outside [1, " + m + "]");
        }
        double[] w = params.modelNumbers("weight");
        for (int i = 0; i < m; i++) {
            if (w[i] <= 0) {
                throw params.invalid(i, "weight", w[i] + " <= 0; multi_krum weights are example counts");
            }
        }
        return new KrumSelection(m, f, (int) keep, w);
    }
}
