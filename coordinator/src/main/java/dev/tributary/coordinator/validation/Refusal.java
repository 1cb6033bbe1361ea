package dev.tributary.coordinator.validation;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * An update the coordinator will not take in, before anything touched the model: the gRPC status the
 * worker receives, with a one-line description naming the tensor and the rule, and the short reason
 * refusals are counted under.
 */
public final class Refusal extends RuntimeException {
    private final Status.Code code;
    private final String reason;

    public Refusal(Status.Code code, String reason, String message) {
        super(message, null, false, false);
        this.code = code;
        this.reason = reason;
    }

    public static Refusal invalid(String reason, String message) {
        return new Refusal(Status.Code.INVALID_ARGUMENT, reason, message);
    }

    public static Refusal precondition(String reason, String message) {
        return new Refusal(Status.Code.FAILED_PRECONDITION, reason, message);
    }

    public static Refusal tooLarge(String reason, String message) {
        return new Refusal(Status.Code.RESOURCE_EXHAUSTED, reason, message);
    }

    public Status.Code code() {
        return code;
    }

    /** The counter label: a short stable code such as {@code shape}, {@code non_finite}, {@code staleness}. */
    public String reason() {
        return reason;
    }

    public StatusRuntimeException toStatus() {
        return Status.fromCode(code).withDescription(getMessage()).asRuntimeException();
    }
}
