package dev.tributary.protocol;

import io.grpc.stub.ClientCallStreamObserver;
import java.util.function.BooleanSupplier;

/**
 * The sending half of a client-streaming or bidirectional call that follows the transport's flow control:
 * {@link #send} holds the calling thread while the call is not ready (gRPC's on-ready handler wakes it),
 * so a large upload never queues more than the transport's window in memory, and sends nothing once the
 * call's answer is known. An interrupt while waiting cancels the call. Shared by pushes and NoLoCo's
 * state exchanges.
 *
 * @param <T> the request message type
 */
public final class ReadySender<T> {
    private final BooleanSupplier answered;
    private volatile ClientCallStreamObserver<T> call;

    /** {@code answered} tells whether the call's answer (or its failure) is already known. */
    public ReadySender(BooleanSupplier answered) {
        this.answered = answered;
    }

    /** To be called from the response observer's {@code beforeStart}. */
    public void attach(ClientCallStreamObserver<T> requestStream) {
        this.call = requestStream;
        requestStream.setOnReadyHandler(this::wake);
    }

    /** Wakes a waiting {@link #send}: for the response observer when the answer arrives. */
    public synchronized void wake() {
        notifyAll();
    }

    /**
     * Sends {@code message} once the transport is ready. Sends nothing when the answer is known first, or
     * when the thread is interrupted (the call is then cancelled and the interrupt flag kept).
     */
    public synchronized void send(T message) {
        while (!call.isReady() && !answered.getAsBoolean()) {
            try {
                wait(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                call.cancel("interrupted", e);
                return;
            }
        }
        if (!answered.getAsBoolean()) {
            call.onNext(message);
        }
    }

    /** Half-closes the call, unless its answer is already known. */
    public void finish() {
        if (!answered.getAsBoolean()) {
            call.onCompleted();
        }
    }

    /** Cancels the call, if it has started. */
    public void cancel(String message, Throwable cause) {
        ClientCallStreamObserver<T> c = call;
        if (c != null) {
            c.cancel(message, cause);
        }
    }
}
