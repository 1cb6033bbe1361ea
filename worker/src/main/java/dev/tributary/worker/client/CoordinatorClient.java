package dev.tributary.worker.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.HeartbeatReply;
import dev.tributary.protocol.HeartbeatRequest;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.RegisterReply;
import dev.tributary.protocol.RegisterRequest;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.zip.CRC32C;

/**
 * The worker's side of the protocol, one call per method, no retries (the {@link Worker} loop retries).
 * Every call carries the bearer token. Models are received into files and checked chunk by chunk
 * (CRC32C) and as a whole (SHA-256); deltas are sent from files in chunks with their CRC32C.
 */
public final class CoordinatorClient {
    /** Chunk size of pushed deltas: with its framing under the 4 MiB gRPC parses from one buffer. */
    public static final int CHUNK_BYTES = 2 << 20;
    private static final int MAX_MESSAGE_BYTES = 8 << 20;

    private final CoordinatorGrpc.CoordinatorBlockingStub blocking;
    private final CoordinatorGrpc.CoordinatorStub async;

    public CoordinatorClient(Channel channel, String token) {
        BearerToken credentials = new BearerToken(token);
        this.blocking = CoordinatorGrpc.newBlockingStub(channel).withCallCredentials(credentials)
                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
        this.async = CoordinatorGrpc.newStub(channel).withCallCredentials(credentials)
                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
    }

    public RegisterReply register(String name, Capabilities capabilities) {
        return blocking.register(RegisterRequest.newBuilder().setName(name).setCapabilities(capabilities).build());
    }

    /** Renews the lease; NOT_FOUND when the coordinator no longer knows {@code workerId}. */
    public HeartbeatReply heartbeat(String workerId) {
        return blocking.heartbeat(HeartbeatRequest.newBuilder().setWorkerId(workerId).build());
    }

    /**
     * A pulled model.
     *
     * @param file the model's safetensors file, or null when the known version was current
     */
    public record Pulled(long version, String sha256, long bytes, Path file) {
        public boolean unchanged() {
            return file == null;
        }
    }

    /**
     * Pulls the current model into {@code dir/model-<version>.safetensors} unless {@code knownVersion} is
     * current. A chunk out of order, a CRC32C or SHA-256 mismatch, or a short stream fails with DATA_LOSS
     * and leaves no file behind.
     */
    public Pulled pull(String workerId, long knownVersion, Path dir) throws IOException {
        Iterator<ModelPart> parts = blocking.pullModel(
                PullRequest.newBuilder().setWorkerId(workerId).setKnownVersion(knownVersion).build());
        if (!parts.hasNext()) {
            throw dataLoss("the model stream ended before its header");
        }
        ModelHeader h = parts.next().getHeader();
        if (h.getUnchanged()) {
            drain(parts);
            return new Pulled(h.getVersion(), hex(h.getSha256()), h.getTotalBytes(), null);
        }
        Files.createDirectories(dir);
        Path target = dir.resolve("model-" + h.getVersion() + ".safetensors");
        Path part = dir.resolve(target.getFileName() + ".part");
        MessageDigest sha = sha256();
        CRC32C crc = new CRC32C();
        long at = 0;
        try (FileChannel out = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            byte[] scratch = new byte[0];
            while (parts.hasNext()) {
                Chunk c = parts.next().getChunk();
                if (c.getOffset() != at) {
                    throw dataLoss("model chunk at offset " + c.getOffset() + ": expected offset " + at);
                }
                int n = c.getData().size();
                if (scratch.length < n) {
                    scratch = new byte[n];
                }
                // One copy into an array we own; checksums and digest run fastest over arrays.
                c.getData().copyTo(scratch, 0);
                crc.reset();
                crc.update(scratch, 0, n);
                if ((int) crc.getValue() != c.getCrc32C()) {
                    throw dataLoss("model chunk at offset " + at + ": CRC32C mismatch");
                }
                sha.update(scratch, 0, n);
                ByteBuffer data = ByteBuffer.wrap(scratch, 0, n);
                while (data.hasRemaining()) {
                    out.write(data);
                }
                at += n;
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(part);
            throw e;
        }
        String digest = HexFormat.of().formatHex(sha.digest());
        if (at != h.getTotalBytes() || !digest.equals(hex(h.getSha256()))) {
            Files.deleteIfExists(part);
            throw dataLoss("model version " + h.getVersion() + ": received " + at + " of " + h.getTotalBytes()
                    + " bytes with SHA-256 " + digest + ", expected " + hex(h.getSha256()));
        }
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Pulled(h.getVersion(), digest, at, target);
    }

    /**
     * One update to push.
     *
     * @param delta the delta's safetensors file (trained − pulled weights)
     */
    public record Update(String updateId, String workerId, long baseVersion, long examples, int localSteps,
            Map<String, Double> metrics, Path delta) {
        public Update {
            metrics = Map.copyOf(metrics);
        }
    }

    /** Pushes one update and waits for its acknowledgment, which comes once the update is durable. */
    public PushAck push(Update u) throws IOException {
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(u.delta(), StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            CompletableFuture<PushAck> result = new CompletableFuture<>();
            Sender sender = new Sender(result);
            async.pushUpdate(sender);
            sender.send(UpdatePart.newBuilder().setHeader(UpdateHeader.newBuilder()
                    .setUpdateId(u.updateId()).setWorkerId(u.workerId()).setBaseVersion(u.baseVersion())
                    .setExamples(u.examples()).setLocalSteps(u.localSteps()).putAllMetrics(u.metrics())
                    .setDeltaBytes(size).setCodec("safetensors")).build());
            CRC32C crc = new CRC32C();
            for (long at = 0; at < size && !result.isDone(); at += CHUNK_BYTES) {
                // A heap array goes to the transport in one copy; a mapped buffer would take a detour.
                byte[] data = new byte[(int) Math.min(CHUNK_BYTES, size - at)];
                MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, at, data, 0, data.length);
                crc.reset();
                crc.update(data);
                sender.send(UpdatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                        .setData(UnsafeByteOperations.unsafeWrap(data)).setCrc32C((int) crc.getValue())).build());
            }
            sender.finish();
            try {
                return result.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof StatusRuntimeException s) {
                    throw s;
                }
                throw new CompletionException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** Sends parts only while the transport is ready for them, so a large delta is never buffered whole. */
    private static final class Sender implements ClientResponseObserver<UpdatePart, PushAck> {
        private final CompletableFuture<PushAck> result;
        private ClientCallStreamObserver<UpdatePart> call;
        private PushAck ack;

        Sender(CompletableFuture<PushAck> result) {
            this.result = result;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdatePart> requestStream) {
            this.call = requestStream;
            requestStream.setOnReadyHandler(this::wake);
        }

        private synchronized void wake() {
            notifyAll();
        }

        synchronized void send(UpdatePart part) {
            while (!call.isReady() && !result.isDone()) {
                try {
                    wait(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    call.cancel("interrupted", e);
                    return;
                }
            }
            if (!result.isDone()) {
                call.onNext(part);
            }
        }

        void finish() {
            if (!result.isDone()) {
                call.onCompleted();
            }
        }

        @Override
        public void onNext(PushAck value) {
            ack = value;
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
            wake();
        }

        @Override
        public void onCompleted() {
            result.complete(ack);
            wake();
        }
    }

    private static void drain(Iterator<ModelPart> parts) {
        while (parts.hasNext()) {
            parts.next();
        }
    }

    private static StatusRuntimeException dataLoss(String message) {
        return Status.DATA_LOSS.withDescription(message).asRuntimeException();
    }

    private static String hex(ByteString b) {
        return HexFormat.of().formatHex(b.toByteArray());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
