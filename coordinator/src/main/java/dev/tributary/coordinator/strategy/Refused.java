package dev.tributary.coordinator.strategy;

/**
 * An update the strategy will not merge; the service answers FAILED_PRECONDITION with the reason and
 * counts refusals by code.
 *
 * @param reason one line naming the value and the rule, e.g. {@code staleness 12 > max 10}
 * @param code   a stable machine-readable cause: one of the constants of this record
 */
public record Refused(String reason, String code) implements Decision {
    /** τ beyond {@code max_staleness} (or beyond the history a FedAsync mixing keeps). */
    public static final String STALENESS = "staleness";
    /** A synchronous round strategy received an update trained from an older round's model. */
    public static final String STALE_ROUND = "stale_round";
    /** The base version is newer than the current model. */
    public static final String FUTURE_VERSION = "future_version";
    /** An update with this id is already held for the next publish. */
    public static final String DUPLICATE = "duplicate";
    /** Taking the update in would make the published model non-finite (overflow). */
    public static final String NON_FINITE_MODEL = "non_finite_model";
    /** The delta does not fit the model (names, shapes, dtypes) or its weight is unusable. */
    public static final String INVALID = "invalid";
}
