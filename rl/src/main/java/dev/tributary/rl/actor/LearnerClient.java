package dev.tributary.rl.actor;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.ExperienceAck;
import dev.tributary.protocol.ExperienceHeader;
import dev.tributary.protocol.ExperiencePart;
import dev.tributary.protocol.LearnerGrpc;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PolicyRequest;
import dev.tributary.protocol.ReadySender;
import dev.tributary.protocol.RegisterActorReply;
import dev.tributary.protocol.RegisterActorRequest;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.client.BearerToken;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The actor's side of the protocol, one call per method, no retries (the {@link Actor} retries). Every
 * call carries the bearer token and a deadline. Policies are received into memory and checked chunk by
 * chunk (CRC32C) and whole (size and SHA-256); experience is sent in chunks with their CRC32C.
 */
public final class LearnerClient {
    /** Chunk size of pushed experience: with its framing under the 4 MiB gRPC parses from one buffer. */
    public static final int CHUNK_BYTES = 2 << 20;
    /** Largest policy accepted. */
    public static final long MAX_POLICY_BYTES = 1L << 30;
    private static final int MAX_MESSAGE_BYTES = 8 << 20;

    private final LearnerGrpc.LearnerBlockingStub blocking;
    private final LearnerGrpc.LearnerStub async;
    private final Duration deadline;

    /** A client whose calls give up after {@code deadline}. */
    public LearnerClient(Channel channel, String token, Duration deadline) {
        BearerToken credentials = new BearerToken(token);
        this.blocking = LearnerGrpc.newBlockingStub(channel).withCallCredentials(credentials)
                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
        this.async = LearnerGrpc.newStub(channel).withCallCredentials(credentials)
                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
        this.deadline = deadline;
    }

    public RegisterActorReply register(RegisterActorRequest request) {
        return blocking.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS).registerActor(request);
    }

    /**
     * A pulled policy.
     *
     * @param weights the policy's tensors, or null when the known version was current
     */
    public record Policy(long version, byte[] sha256, long bytes, TensorMap weights) {
        public boolean unchanged() {
            return weights == null;
        }
    }

    /**
     * The learner's current policy unless {@code knownVersion} is current (then only the header travels). A
     * chunk out of order, a CRC32C or SHA-256 mismatch, a short stream or an unreadable image fails with
     * DATA_LOSS.
     */
    public Policy pull(String actorId, long knownVersion) {
        Iterator<ModelPart> parts = blocking.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .pullPolicy(PolicyRequest.newBuilder().setActorId(actorId).setKnownVersion(knownVersion).build());
        if (!parts.hasNext()) {
            throw dataLoss("the policy stream ended before its header");
        }
        ModelHeader h = parts.next().getHeader();
        if (h.getUnchanged()) {
            while (parts.hasNext()) {
                parts.next();
            }
            return new Policy(h.getVersion(), h.getSha256().toByteArray(), h.getTotalBytes(), null);
        }
        if (h.getTotalBytes() <= 0 || h.getTotalBytes() > MAX_POLICY_BYTES) {
            throw dataLoss("policy version " + h.getVersion() + " of " + h.getTotalBytes() + " bytes: outside [1, "
                    + MAX_POLICY_BYTES + "]");
        }
        MemorySegment bytes = Arena.ofAuto().allocate(h.getTotalBytes(), 64);
        long at = 0;
        while (parts.hasNext()) {
            Chunk c = parts.next().getChunk();
            ByteString data = c.getData();
            if (c.getOffset() != at || data.size() > h.getTotalBytes() - at) {
                throw dataLoss("policy chunk at offset " + c.getOffset() + " of " + data.size() + " bytes: expected offset "
                        + at + " and at most " + (h.getTotalBytes() - at) + " bytes");
            }
            MemorySegment slice = bytes.asSlice(at, data.size());
            data.copyTo(slice.asByteBuffer());
            if (ModelImage.crc32c(slice) != c.getCrc32C()) {
                throw dataLoss("policy chunk at offset " + at + ": CRC32C mismatch");
            }
            at += data.size();
        }
        byte[] sha = ModelImage.sha256(bytes);
        if (at != h.getTotalBytes() || !Arrays.equals(sha, h.getSha256().toByteArray())) {
            throw dataLoss("policy version " + h.getVersion() + ": received " + at + " of " + h.getTotalBytes()
                    + " bytes, or their SHA-256 differs from the header's");
        }
        try {
            return new Policy(h.getVersion(), sha, at, ModelImage.tensors(bytes, "policy version " + h.getVersion()));
        } catch (InvalidCheckpointException e) {
            throw dataLoss(e.getMessage());
        }
    }

    /**
     * Pushes one item (the header's {@code payload_bytes} is set from {@code payload}) and waits for its
     * acknowledgment, which comes once the item is durable.
     *
     * @throws StatusRuntimeException with the learner's refusal or the transport's failure
     */
    public ExperienceAck push(ExperienceHeader header, MemorySegment payload) {
        long size = payload.byteSize();
        List<ExperiencePart> parts = new ArrayList<>();
        parts.add(ExperiencePart.newBuilder().setHeader(header.toBuilder().setPayloadBytes(size)).build());
        for (long at = 0; at < size; at += CHUNK_BYTES) {
            MemorySegment slice = payload.asSlice(at, Math.min(CHUNK_BYTES, size - at));
            parts.add(ExperiencePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                    .setData(UnsafeByteOperations.unsafeWrap(slice.toArray(ValueLayout.JAVA_BYTE)))
                    .setCrc32C(ModelImage.crc32c(slice))).build());
        }
        return send(parts);
    }

    /**
     * Sends {@code parts} exactly as given (the learner checks them; tests of its refusals send broken ones)
     * and waits for the acknowledgment.
     *
     * @throws StatusRuntimeException with the learner's refusal or the transport's failure
     */
    public ExperienceAck send(List<ExperiencePart> parts) {
        CompletableFuture<ExperienceAck> result = new CompletableFuture<>();
        ReadySender<ExperiencePart> out = new ReadySender<>(result::isDone);
        async.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
                .pushExperience(new ClientResponseObserver<ExperiencePart, ExperienceAck>() {
                    private ExperienceAck ack;

                    @Override
                    public void beforeStart(ClientCallStreamObserver<ExperiencePart> requestStream) {
                        out.attach(requestStream);
                    }

                    @Override
                    public void onNext(ExperienceAck value) {
                        ack = value;
                    }

                    @Override
                    public void onError(Throwable t) {
                        result.completeExceptionally(t);
                        out.wake();
                    }

                    @Override
                    public void onCompleted() {
                        result.complete(ack);
                        out.wake();
                    }
                });
        for (ExperiencePart p : parts) {
            if (result.isDone()) {
                break;
            }
            out.send(p);
        }
        out.finish();
        try {
            return result.get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof StatusRuntimeException s ? s
                    : Status.fromThrowable(e.getCause()).asRuntimeException();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.cancel("interrupted", e);
            throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
        }
    }

    private static StatusRuntimeException dataLoss(String message) {
        return Status.DATA_LOSS.withDescription(message).asRuntimeException();
    }
}
