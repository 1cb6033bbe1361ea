package dev.tributary.merge;

/**
 * TIES (Yadav et al.): per model, keep the ⌊density·n⌋ largest |δᵢ| of each tensor; elect the sign of
 * Σwᵢδ̂ᵢ (ties to +); add the agreeing entries, divided by their weights ({@code normalize} defaults
 * to true), scaled by λ.
 */
final class Ties extends Method {
    Ties() {
        super("ties", TaskVectors.globals(Sparsification.MAGNITUDE, true, false),
                TaskVectors.perModel(Sparsification.MAGNITUDE), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.MAGNITUDE, true);
    }
}
