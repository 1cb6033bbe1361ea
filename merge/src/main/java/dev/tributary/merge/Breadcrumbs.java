package dev.tributary.merge;

/**
 * Model breadcrumbs (Davari and Belilovsky): per model, drop the {@code gamma} fraction of largest
 * magnitudes (default 0.01) and then the smallest, keeping ⌊density·n⌋ entries; then task arithmetic.
 */
final class Breadcrumbs extends Method {
    Breadcrumbs() {
        super("breadcrumbs", TaskVectors.globals(Sparsification.MAGNITUDE_OUTLIERS, false, false),
                TaskVectors.perModel(Sparsification.MAGNITUDE_OUTLIERS), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.MAGNITUDE_OUTLIERS, false);
    }
}
