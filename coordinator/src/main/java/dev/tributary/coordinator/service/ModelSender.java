package dev.tributary.coordinator.service;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.store.ModelImage;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.LongConsumer;

/**
 * Answers a pull of a versioned model: one {@link ModelHeader} (with {@code unchanged} and nothing else
 * when the caller's known version is current), then the image's chunks with their CRC32C, as fast as the
 * transport is ready for them. Shared by every service that publishes versions (models, policies).
 */
public final class ModelSender {
    private final ServerCallStreamObserver<ModelPart> out;
    private final long knownVersion;
    private final LongConsumer bytesOut;
    private ModelImage image;
    private int next;
    private boolean done;

    private ModelSender(ServerCallStreamObserver<ModelPart> out, long knownVersion, LongConsumer bytesOut) {
        this.out = out;
        this.knownVersion = knownVersion;
        this.bytesOut = bytesOut;
    }

    /**
     * Streams {@code image} once it is there to {@code plain} (a server call's observer) for a caller that
     * holds {@code knownVersion}; {@code bytesOut} counts the chunk bytes sent.
     */
    public static void serve(StreamObserver<ModelPart> plain, long knownVersion, CompletionStage<ModelImage> image,
            LongConsumer bytesOut) {
        ServerCallStreamObserver<ModelPart> out = (ServerCallStreamObserver<ModelPart>) plain;
        ModelSender sender = new ModelSender(out, knownVersion, bytesOut);
        out.setOnReadyHandler(sender::pump);
        out.setOnCancelHandler(() -> {});
        image.whenComplete((img, error) -> {
            if (error != null) {
                Throwable t = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                out.onError(Status.UNAVAILABLE.withDescription("model not available: " + t.getMessage()).asRuntimeException());
            } else {
                sender.start(img);
            }
        });
    }

    private synchronized void start(ModelImage image) {
        boolean unchanged = image.version() == knownVersion;
        out.onNext(ModelPart.newBuilder().setHeader(ModelHeader.newBuilder()
                .setVersion(image.version())
                .setSha256(ByteString.copyFrom(image.sha256()))
                .setTotalBytes(image.size())
                .setUnchanged(unchanged)).build());
        if (unchanged) {
            done = true;
            out.onCompleted();
            return;
        }
        this.image = image;
        pump();
    }

    private synchronized void pump() {
        if (image == null || done) {
            return;
        }
        if (out.isCancelled()) {
            done = true;
            return;
        }
        while (next < image.chunkCount() && out.isReady()) {
            byte[] c = image.chunk(next);
            out.onNext(ModelPart.newBuilder().setChunk(Chunk.newBuilder()
                    .setOffset((long) next * ModelImage.CHUNK_BYTES)
                    .setData(UnsafeByteOperations.unsafeWrap(c))
                    .setCrc32C(image.chunkCrc(next))).build());
            bytesOut.accept(c.length);
            next++;
        }
        if (next == image.chunkCount()) {
            done = true;
            out.onCompleted();
        }
    }
}
