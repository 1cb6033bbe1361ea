package dev.tributary.coordinator.service;

import com.google.protobuf.ByteString;
import dev.tributary.store.ModelImage;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** One push stream driven part by part, as a hostile (or very slow) client would. */
final class RawPush {
    private final PushAnswer answer = new PushAnswer();
    private final CompletableFuture<PushAck> result = answer.result;
    private final StreamObserver<UpdatePart> parts;
    private long offset;

    RawPush(TestClient client) {
        parts = client.async.pushUpdate(answer);
    }

    /** A header for {@code deltaBytes} bytes from {@code worker}, under a fresh update id. */
    static UpdateHeader header(String worker, long deltaBytes) {
        return UpdateHeader.newBuilder().setUpdateId(UUID.randomUUID().toString()).setWorkerId(worker).setBaseVersion(0)
                .setExamples(1).setLocalSteps(1).setDeltaBytes(deltaBytes).build();
    }

    RawPush header(UpdateHeader h) {
        if (!result.isDone()) {
            parts.onNext(UpdatePart.newBuilder().setHeader(h).build());
        }
        return this;
    }

    /** Sends {@code n} bytes of filler with a right CRC32C at the next offset. */
    RawPush chunk(int n) {
        if (!result.isDone()) {
            byte[] data = new byte[n];
            parts.onNext(UpdatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(offset)
                    .setData(ByteString.copyFrom(data)).setCrc32C(ModelImage.crc32c(MemorySegment.ofArray(data)))).build());
            offset += n;
        }
        return this;
    }

    void cancel() {
        answer.call.cancel("test", null);
    }

    boolean done() {
        return result.isDone();
    }

    /** The error the stream ended with, once it ended so. */
    Throwable error() {
        return result.exceptionNow();
    }

    /** The status the stream ended with, waiting up to {@code wait}; OK when it was acknowledged. */
    Status status(Duration wait) throws InterruptedException, TimeoutException {
        try {
            result.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            return Status.OK;
        } catch (ExecutionException e) {
            return Status.fromThrowable(e.getCause());
        }
    }
}
