package dev.tributary.rl.experience;

/**
 * Experience that does not follow {@link ExperienceFormat}: a one-line message naming the tensor and the
 * rule, and a short stable reason (such as {@code shape} or {@code non_finite}) refusals are counted under.
 */
public final class InvalidExperienceException extends IllegalArgumentException {
    private final String reason;

    public InvalidExperienceException(String reason, String message) {
        super(message);
        this.reason = reason;
    }

    /** The counter label. */
    public String reason() {
        return reason;
    }
}
