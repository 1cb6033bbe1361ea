package dev.tributary.merge;

import java.lang.foreign.MemorySegment;

/**
 * How the task-arithmetic family thins each model's delta before mixing (mergekit's sparsification
 * methods). Each works in place on an f32 delta; with {@code rescale} the kept entries are scaled so
 * that the L1 norm equals the original's (skipped, as mergekit does, when either norm is below 1e-7).
 */
enum Sparsification {
    /** No thinning (task arithmetic). */
    NONE,
    /** Keep the ⌊density·n⌋ largest magnitudes (TIES). */
    MAGNITUDE,
    /** Keep each entry with probability density, seeded (DARE). */
    RANDOM,
    /**
     * Drop the ⌊gamma·n⌋ largest magnitudes and then the smallest, keeping ⌊density·n⌋ (breadcrumbs). When
     * no largest magnitude is to be dropped (⌊gamma·n⌋ = 0, as for tensors of fewer than 1/gamma entries) the
     * whole delta is dropped, as mergekit's {@code magnitude_outliers} does: its kept range
     * {@code sorted[bottom:-top]} is empty for top = 0.
     */
    MAGNITUDE_OUTLIERS,
    /**
     * Keep each entry with a probability that grows with its magnitude rank, from density − epsilon to
     * density + epsilon, seeded (DELLA's MagPrune; see {@link MagPrune}).
     */
    MAGPRUNE;

    private static final double RESCALE_EPS = 1e-7;

    /** One model's thinning parameters: {@code gamma} is read by MAGNITUDE_OUTLIERS, {@code epsilon} by MAGPRUNE. */
    record Thinning(double density, double gamma, double epsilon) {}

    /**
     * Thins {@code delta} (n floats of the given shape) in place.
     *
     * @param key the {@link DareRandom} stream for this model and tensor (RANDOM and MAGPRUNE)
     */
    void apply(MemorySegment delta, long[] shape, long n, Thinning t, boolean rescale, long key) {
        double density = t.density();
        if (this == NONE || density >= 1) {
            return;
        }
        if (this == MAGPRUNE && density <= 0) {
            delta.fill((byte) 0);
            return;
        }
        double before = rescale ? F32.sumAbs(delta, n) : 0;
        switch (this) {
            case MAGNITUDE -> MagnitudeRanks.keepRange(delta, n, 0, (long) Math.floor(density * n));
            case MAGNITUDE_OUTLIERS -> {
                long target = (long) Math.floor(density * n);
                long top = (long) Math.floor(t.gamma() * n);
                long bottom = n - target - top;
                if (bottom < 0) {
                    top += bottom;
                }
                if (top <= 0) {
                    delta.fill((byte) 0);
                } else {
                    MagnitudeRanks.keepRange(delta, n, top, top + target);
                }
            }
            case RANDOM -> {
                for (long j = 0; j < n; j++) {
                    if (!(DareRandom.uniform(key, j) < density)) {
                        F32.set(delta, j, 0f);
                    }
                }
            }
            case MAGPRUNE -> MagPrune.apply(delta, shape, density, t.epsilon(), key);
            default -> throw new IllegalStateException(name());
        }
        if (rescale) {
            double after = F32.sumAbs(delta, n);
            if (before >= RESCALE_EPS && after >= RESCALE_EPS) {
                double ratio = before / after;
                for (long j = 0; j < n; j++) {
                    float v = F32.get(delta, j);
                    if (v != 0f) {
                        F32.set(delta, j, (float) (v * ratio));
                    }
                }
            }
        }
    }
}
