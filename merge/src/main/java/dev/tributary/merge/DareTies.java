package dev.tributary.merge;

/**
 * DARE's seeded random thinning and L1 rescale, then TIES sign consensus; {@code normalize} defaults
 * to false, as in mergekit.
 */
final class DareTies extends Method {
    DareTies() {
        super("dare_ties", TaskVectors.globals(Sparsification.RANDOM, false, true),
                TaskVectors.perModel(Sparsification.RANDOM), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.RANDOM, true);
    }
}
