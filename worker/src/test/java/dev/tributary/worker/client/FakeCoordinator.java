package dev.tributary.worker.client;

import com.google.protobuf.ByteString;
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
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;

/**
 * A coordinator stand-in for the worker's tests: serves one model in small chunks, takes pushes with
 * exactly-once semantics, and fails on request: before storing an update (lost) or after (stored, but
 * the acknowledgment never arrives), as a coordinator killed at those moments would.
 */
final class FakeCoordinator extends CoordinatorGrpc.CoordinatorImplBase {
    final Set<String> applied = Collections.synchronizedSet(new LinkedHashSet<>());
    final List<String> pushes = Collections.synchronizedList(new ArrayList<>());
    final AtomicInteger failBeforeStore = new AtomicInteger();
    final AtomicInteger failAfterStore = new AtomicInteger();
    final AtomicInteger registrations = new AtomicInteger();
    /** Errors the next pushes are answered with, one each, before anything is stored. */
    final Queue<StatusRuntimeException> answers = new ConcurrentLinkedQueue<>();
    volatile boolean corruptSha;
    volatile long version = 3;
    /** How a pull that names a codec is answered: null ignores the codec; else see {@link Coded}. */
    volatile Coded coded;
    private final byte[] model;
    private final TensorMap tensors;
    private final Path tmp;

    /** Lossy-pull answers: honest, or with one of the two digests wrong. */
    enum Coded { HONEST, BAD_CODED_SHA, BAD_DECODED_SHA }

    FakeCoordinator(TensorMap model, Path tmp) throws IOException {
        Path f = tmp.resolve("fake-model.safetensors");
        Safetensors.write(f, model);
        this.model = Files.readAllBytes(f);
        this.tensors = model;
        this.tmp = tmp;
    }

    private static byte[] sha(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static void chunks(byte[] body, StreamObserver<ModelPart> out) {
        for (int at = 0; at < body.length; at += 40) {
            int n = Math.min(40, body.length - at);
            CRC32C crc = new CRC32C();
            crc.update(body, at, n);
            out.onNext(ModelPart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                    .setData(ByteString.copyFrom(body, at, n)).setCrc32C((int) crc.getValue())).build());
        }
    }

    /** The model coded by {@code spec}, with the digests of the coded bytes and of the decoded image. */
    private void answerCoded(String spec, StreamObserver<ModelPart> out) {
        try {
            dev.tributary.codec.Codec c = dev.tributary.codec.Codec.parse(spec);
            byte[] bytes = c.encode(tensors);
            TensorMap decoded = c.decode(bytes, tensors.infos(), dev.tributary.codec.DecodeLimits.forLayout(tensors.infos()));
            Path f = Files.createTempFile(tmp, "decoded", ".safetensors");
            Safetensors.write(f, decoded);
            byte[] image = Files.readAllBytes(f);
            byte[] codedSha = sha(bytes);
            byte[] decodedSha = sha(image);
            if (coded == Coded.BAD_CODED_SHA) {
                codedSha[0] ^= 1;
            }
            if (coded == Coded.BAD_DECODED_SHA) {
                decodedSha[0] ^= 1;
            }
            out.onNext(ModelPart.newBuilder().setHeader(ModelHeader.newBuilder().setVersion(version)
                    .setSha256(ByteString.copyFrom(sha(model))).setTotalBytes(model.length).setCodec(c.spec())
                    .setCodedSha256(ByteString.copyFrom(codedSha)).setCodedBytes(bytes.length)
                    .setDecodedSha256(ByteString.copyFrom(decodedSha)).setDecodedBytes(image.length)).build());
            chunks(bytes, out);
            out.onCompleted();
        } catch (IOException | dev.tributary.codec.CodecException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void register(RegisterRequest req, StreamObserver<RegisterReply> out) {
        registrations.incrementAndGet();
        out.onNext(RegisterReply.newBuilder().setWorkerId("w-" + req.getName()).setLeaseMillis(300).setVersion(version)
                .setStrategy("fedasync").build());
        out.onCompleted();
    }

    @Override
    public void heartbeat(HeartbeatRequest req, StreamObserver<HeartbeatReply> out) {
        out.onNext(HeartbeatReply.newBuilder().setLeaseMillis(300).setVersion(version).build());
        out.onCompleted();
    }

    @Override
    public void pullModel(PullRequest req, StreamObserver<ModelPart> out) {
        if (coded != null && !req.getPullCodec().isEmpty() && req.getKnownVersion() != version) {
            answerCoded(req.getPullCodec(), out);
            return;
        }
        byte[] sha;
        try {
            sha = MessageDigest.getInstance("SHA-256").digest(model);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        if (corruptSha) {
            sha[0] ^= 1;
        }
        boolean unchanged = req.getKnownVersion() == version;
        out.onNext(ModelPart.newBuilder().setHeader(ModelHeader.newBuilder().setVersion(version)
                .setSha256(ByteString.copyFrom(sha)).setTotalBytes(model.length).setUnchanged(unchanged)).build());
        for (int at = 0; !unchanged && at < model.length; at += 40) {
            int n = Math.min(40, model.length - at);
            CRC32C crc = new CRC32C();
            crc.update(model, at, n);
            out.onNext(ModelPart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                    .setData(ByteString.copyFrom(model, at, n)).setCrc32C((int) crc.getValue())).build());
        }
        out.onCompleted();
    }

    @Override
    public StreamObserver<UpdatePart> pushUpdate(StreamObserver<PushAck> out) {
        return new StreamObserver<>() {
            UpdateHeader header;
            final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

            @Override
            public void onNext(UpdatePart p) {
                if (p.hasHeader()) {
                    header = p.getHeader();
                } else {
                    CRC32C crc = new CRC32C();
                    crc.update(p.getChunk().getData().toByteArray());
                    if ((int) crc.getValue() != p.getChunk().getCrc32C()) {
                        throw new IllegalStateException("bad crc");
                    }
                    bytes.writeBytes(p.getChunk().getData().toByteArray());
                }
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onCompleted() {
                pushes.add(header.getUpdateId());
                if (bytes.size() != header.getDeltaBytes()) {
                    out.onError(Status.INVALID_ARGUMENT.withDescription("short").asRuntimeException());
                    return;
                }
                StatusRuntimeException answer = answers.poll();
                if (answer != null) {
                    out.onError(answer);
                    return;
                }
                if (failBeforeStore.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    out.onError(Status.UNAVAILABLE.withDescription("gone before storing").asRuntimeException());
                    return;
                }
                boolean duplicate = !applied.add(header.getUpdateId());
                if (failAfterStore.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                    out.onError(Status.UNAVAILABLE.withDescription("gone after storing").asRuntimeException());
                    return;
                }
                out.onNext(PushAck.newBuilder().setUpdateId(header.getUpdateId()).setDuplicate(duplicate)
                        .setVersion(version).build());
                out.onCompleted();
            }
        };
    }
}
