package dev.tributary.merge;

/**
 * Model breadcrumbs thinning followed by TIES sign consensus; {@code normalize} defaults to false, as
 * in mergekit.
 */
final class BreadcrumbsTies extends Method {
    BreadcrumbsTies() {
        super("breadcrumbs_ties", TaskVectors.globals(Sparsification.MAGNITUDE_OUTLIERS, false, false),
                TaskVectors.perModel(Sparsification.MAGNITUDE_OUTLIERS), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.MAGNITUDE_OUTLIERS, true);
    }
}
