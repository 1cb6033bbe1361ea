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
import java.util.function.ObjLongConsumer;

/**
 * Answers a pull of a versioned model: one {@link ModelHeader} (with {@code unchanged} and nothing else
 * when the caller's known version is current), then the chunks of the image, of a version delta from
 * the caller's known version, of the model coded by a lossy pull's codec, or of one fragment's values
 * (Streaming DiLoCo), with their CRC32C, as fast as the transport is ready for them. Shared by
 * every service that publishes versions (models, policies).
 */
public final class ModelSender {
    /** What to answer a pull with: the current version's image (its SHA-256 and size go in the header), and one body. */
    public sealed interface Answer {
        /** The current version. */
        ModelImage model();

        /** The whole model. */
        record Full(ModelImage model) implements Answer {}

        /** A version delta from version {@code base} to the model, sent instead of it. */
        record Delta(ModelImage model, ModelImage delta, long base) implements Answer {}

        /** The model coded by a lossy pull's codec, sent instead of it. */
        record Lossy(ModelImage model, Coded coded) implements Answer {}

        /** Streaming DiLoCo: the values of fragment {@code index} at the model's version (the rest equals the caller's known version). */
        record Fragment(ModelImage model, ModelImage values, int index) implements Answer {}
    }

    /**
     * A version coded for lossy pulls.
     *
     * @param codec          the canonical codec spec
     * @param bytes          the codec message (its SHA-256 and size go in the header)
     * @param decodedSha256  SHA-256 of the decoded weights' f32 safetensors image
     * @param decodedBytes   that image's size
     */
    public record Coded(String codec, ModelImage bytes, byte[] decodedSha256, long decodedBytes) {}

    private final ServerCallStreamObserver<ModelPart> out;
    private final long knownVersion;
    private final LongConsumer bytesOut;
    private final ObjLongConsumer<String> answered;
    private ModelImage body;
    private String kind;
    private long sent;
    private int next;
    private boolean done;

    private ModelSender(ServerCallStreamObserver<ModelPart> out, long knownVersion, LongConsumer bytesOut,
            ObjLongConsumer<String> answered) {
        this.out = out;
        this.knownVersion = knownVersion;
        this.bytesOut = bytesOut;
        this.answered = answered;
    }

    /**
     * Streams {@code image} once it is there to {@code plain} (a server call's observer) for a caller that
     * holds {@code knownVersion}; {@code bytesOut} counts the chunk bytes sent.
     */
    public static void serve(StreamObserver<ModelPart> plain, long knownVersion, CompletionStage<ModelImage> image,
            LongConsumer bytesOut) {
        serve(plain, knownVersion, image.thenApply(Answer.Full::new), bytesOut, (kind, bytes) -> { });
    }

    /**
     * Streams {@code answer} once it is there; {@code bytesOut} counts the chunk bytes as they are sent,
     * {@code answered} is told once, when the stream completes, how the pull was answered ({@code full},
     * {@code delta}, {@code lossy} or {@code unchanged}) and the chunk bytes it took.
     */
    public static void serve(StreamObserver<ModelPart> plain, long knownVersion, CompletionStage<Answer> answer,
            LongConsumer bytesOut, ObjLongConsumer<String> answered) {
        ServerCallStreamObserver<ModelPart> out = (ServerCallStreamObserver<ModelPart>) plain;
        ModelSender sender = new ModelSender(out, knownVersion, bytesOut, answered);
        out.setOnReadyHandler(sender::pump);
        out.setOnCancelHandler(() -> {});
        answer.whenComplete((a, error) -> {
            if (error != null) {
                Throwable t = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
                out.onError(Status.UNAVAILABLE.withDescription("model not available: " + t.getMessage()).asRuntimeException());
            } else {
                sender.start(a);
            }
        });
    }

    private synchronized void start(Answer a) {
        ModelImage image = a.model();
        boolean unchanged = image.version() == knownVersion;
        ModelHeader.Builder h = ModelHeader.newBuilder()
                .setVersion(image.version())
                .setSha256(ByteString.copyFrom(image.sha256()))
                .setTotalBytes(image.size())
                .setUnchanged(unchanged);
        if (unchanged) {
            out.onNext(ModelPart.newBuilder().setHeader(h).build());
            done = true;
            answered.accept("unchanged", 0);
            out.onCompleted();
            return;
        }
        switch (a) {
            case Answer.Full f -> {
                kind = "full";
                body = image;
            }
            case Answer.Delta d -> {
                h.setVersionDelta(true).setDeltaBaseVersion(d.base()).setDeltaBytes(d.delta().size());
                kind = "delta";
                body = d.delta();
            }
            case Answer.Lossy l -> {
                Coded c = l.coded();
                h.setCodec(c.codec()).setCodedSha256(ByteString.copyFrom(c.bytes().sha256())).setCodedBytes(c.bytes().size())
                        .setDecodedSha256(ByteString.copyFrom(c.decodedSha256())).setDecodedBytes(c.decodedBytes());
                kind = "lossy";
                body = c.bytes();
            }
            case Answer.Fragment f -> {
                h.setFragmentPull(true).setFragment(f.index()).setFragmentSha256(ByteString.copyFrom(f.values().sha256()))
                        .setFragmentBytes(f.values().size());
                kind = "fragment";
                body = f.values();
            }
        }
        out.onNext(ModelPart.newBuilder().setHeader(h).build());
        pump();
    }

    private synchronized void pump() {
        if (body == null || done) {
            return;
        }
        if (out.isCancelled()) {
            done = true;
            return;
        }
        while (next < body.chunkCount() && out.isReady()) {
            byte[] c = body.chunk(next);
            out.onNext(ModelPart.newBuilder().setChunk(Chunk.newBuilder()
                    .setOffset((long) next * ModelImage.CHUNK_BYTES)
                    .setData(UnsafeByteOperations.unsafeWrap(c))
                    .setCrc32C(body.chunkCrc(next))).build());
            bytesOut.accept(c.length);
            sent += c.length;
            next++;
        }
        if (next == body.chunkCount()) {
            done = true;
            answered.accept(kind, sent); // before the end reaches the client, so that a finished pull is counted
            out.onCompleted();
        }
    }
}
