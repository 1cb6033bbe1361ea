package dev.tributary.merge;

/**
 * A merge cannot proceed because of its inputs: a missing or mismatched tensor, a missing base model, an
 * unknown method or parameter, a value out of range, a non-finite weight. The message is one line that
 * names the model, the tensor and the configuration key involved, and the rule that was broken.
 */
public final class MergeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MergeException(String message) {
        super(message);
    }

    public MergeException(String message, Throwable cause) {
        super(message, cause);
    }
}
