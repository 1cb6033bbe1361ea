package dev.tributary.coordinator.service;

import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.UpdatePart;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.concurrent.CompletableFuture;

/** The answer to one push: completes with the ack, or exceptionally with the status it was refused with. */
final class PushAnswer implements ClientResponseObserver<UpdatePart, PushAck> {
    final CompletableFuture<PushAck> result = new CompletableFuture<>();
    volatile ClientCallStreamObserver<UpdatePart> call;
    private PushAck ack;

    @Override
    public void beforeStart(ClientCallStreamObserver<UpdatePart> requestStream) {
        call = requestStream;
    }

    @Override
    public void onNext(PushAck v) {
        ack = v;
    }

    @Override
    public void onError(Throwable t) {
        result.completeExceptionally(t);
    }

    @Override
    public void onCompleted() {
        result.complete(ack);
    }
}
