package dev.tributary.coordinator.auth;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * Refuses every call that lacks {@code authorization: Bearer <token>} with a known token: the call is
 * closed with UNAUTHENTICATED before the service sees it, so no message is read and nothing is stored.
 * An accepted call runs with {@link #TOKEN} set to a name of its token (never the token itself), under
 * which the service counts what each token holds.
 */
public final class BearerAuth implements ServerInterceptor {
    public static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** The accepted token's name, {@code token-<n>} for the n-th token (from 0). */
    public static final Context.Key<String> TOKEN = Context.key("tributary-token");
    private static final String PREFIX = "Bearer ";

    private final Tokens tokens;
    private final Runnable onRefused;

    /** @param onRefused called once per refused call (counting) */
    public BearerAuth(Tokens tokens, Runnable onRefused) {
        this.tokens = tokens;
        this.onRefused = onRefused;
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String h = headers.get(AUTHORIZATION);
        String problem = null;
        int index = -1;
        if (h == null) {
            problem = "missing bearer token (metadata authorization: Bearer <token>)";
        } else if (!h.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            problem = "authorization metadata is not a bearer token";
        } else if ((index = tokens.indexOf(h.substring(PREFIX.length()).strip())) < 0) {
            problem = "invalid bearer token";
        }
        if (problem == null) {
            return Contexts.interceptCall(Context.current().withValue(TOKEN, "token-" + index), call, headers, next);
        }
        onRefused.run();
        call.close(Status.UNAUTHENTICATED.withDescription(problem), new Metadata());
        return new ServerCall.Listener<>() {};
    }
}
