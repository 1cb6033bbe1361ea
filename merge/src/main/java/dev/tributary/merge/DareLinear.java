package dev.tributary.merge;

/**
 * DARE (Yu et al.) with linear mixing: keep each delta entry with probability {@code density} (seeded,
 * see {@link DareRandom}), rescale the kept ones to the original L1 norm, then task arithmetic; {@code
 * normalize} defaults to false.
 */
final class DareLinear extends Method {
    DareLinear() {
        super("dare_linear", TaskVectors.globals(Sparsification.RANDOM, false, true),
                TaskVectors.perModel(Sparsification.RANDOM), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.RANDOM, false);
    }
}
