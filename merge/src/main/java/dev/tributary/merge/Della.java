package dev.tributary.merge;

/**
 * DELLA (Deep et al.) as mergekit has it: per model, MagPrune keeps each delta entry with a probability
 * from density − ε (smallest magnitude of its row) to density + ε (largest), seeded (see {@link MagPrune});
 * the kept entries are rescaled to the original L1 norm ({@code rescale}, default true); then TIES sign
 * consensus, divided by the agreeing weights ({@code normalize}, default true), scaled by λ.
 */
final class Della extends Method {
    Della() {
        super("della", TaskVectors.globals(Sparsification.MAGPRUNE, true, true),
                TaskVectors.perModel(Sparsification.MAGPRUNE), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.MAGPRUNE, true);
    }
}
