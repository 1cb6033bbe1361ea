package dev.tributary.merge;

/**
 * DELLA with linear mixing (mergekit's {@code della_linear}): MagPrune and L1 rescaling as in
 * {@link Della}, then task arithmetic; {@code normalize} defaults to false.
 */
final class DellaLinear extends Method {
    DellaLinear() {
        super("della_linear", TaskVectors.globals(Sparsification.MAGPRUNE, false, true),
                TaskVectors.perModel(Sparsification.MAGPRUNE), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.MAGPRUNE, false);
    }
}
