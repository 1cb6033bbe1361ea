package dev.tributary.coordinator.validation;

import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * An update the coordinator will not take in, before anything touched the model: the gRPC status the
 * worker receives, with a one-line description naming the tensor and the rule, and the short reason
 * refusals are counted under.
 */
public final class Refusal extends RuntimeException {
    /**
     * The trailer that tells a client to retry after this many milliseconds (gRPC's own retry pushback);
     * refusals without it are final for the update.
     */
    public static final Metadata.Key<String> RETRY_PUSHBACK_MS = Metadata.Key.of("grpc-retry-pushback-ms",
            Metadata.ASCII_STRING_MARSHALLER);

    /** The trailer that carries {@link #reason}, so that a client can count refusals as the coordinator does. */
    public static final Metadata.Key<String> REASON = Metadata.Key.of("tributary-reason", Metadata.ASCII_STRING_MARSHALLER);

    private final Status.Code code;
    private final String reason;
    private final long retryAfterMillis;

    public Refusal(Status.Code code, String reason, String message) {
        this(code, reason, message, 0);
    }

    private Refusal(Status.Code code, String reason, String message, long retryAfterMillis) {
        super(message, null, false, false);
        this.code = code;
        this.reason = reason;
        this.retryAfterMillis = retryAfterMillis;
    }

    /** A refusal for now, not of the update: the client should send it again after {@code afterMillis}. */
    public static Refusal retryLater(Status.Code code, String reason, String message, long afterMillis) {
        if (afterMillis < 1) {
            throw new IllegalArgumentException("afterMillis < 1: " + afterMillis);
        }
        return new Refusal(code, reason, message, afterMillis);
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

    /** Milliseconds after which the same update may be sent again; 0 when the refusal is final. */
    public long retryAfterMillis() {
        return retryAfterMillis;
    }

    public StatusRuntimeException toStatus() {
        Metadata trailers = new Metadata();
        trailers.put(REASON, reason);
        if (retryAfterMillis > 0) {
            trailers.put(RETRY_PUSHBACK_MS, Long.toString(retryAfterMillis));
        }
        return Status.fromCode(code).withDescription(getMessage()).asRuntimeException(trailers);
    }
}
