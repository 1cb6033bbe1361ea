package dev.tributary.merge;

import java.util.List;

/**
 * Krum (Blanchard et al.; Flower's {@code aggregate_krum} with nothing to keep): returns the model whose
 * summed squared distance to its N − f − 2 nearest others is smallest, over the whole flattened model;
 * {@code byzantine} is f (default 0). Two passes.
 */
final class Krum extends Method {
    Krum() {
        super("krum", List.of(ParamDef.integer("byzantine", 0)), List.of(), false, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        int m = params.models();
        return new KrumSelection(m, byzantine(params), 1, new double[m]);
    }

    static int byzantine(Bound params) {
        long f = params.integer("byzantine");
        if (f < 0 || f >= params.models()) {
            throw params.invalid("byzantine", f + " is outside [0, " + params.models() + ")");
        }
        return (int) f;
    }
}
