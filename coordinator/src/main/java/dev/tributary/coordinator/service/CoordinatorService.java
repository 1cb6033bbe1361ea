package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.ModelImage;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.coordinator.strategy.InnerLoop;
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
import dev.tributary.tensor.TensorMap;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/** The gRPC face of the coordinator: registration, leases, model pulls and update pushes. */
final class CoordinatorService extends CoordinatorGrpc.CoordinatorImplBase {
    /** Strategies whose workers wait for a new version after pushing. */
    private static final Set<String> ROUND_BASED = Set.of("fedavg", "diloco");

    private final Sequencer sequencer;
    private final WorkerRegistry registry;
    private final UpdateValidator validator;
    private final CoordinatorMetrics metrics;
    private final long maxInflightBytes;
    private final AtomicLong inflightBytes = new AtomicLong();
    private final ReceiveBuffers buffers;

    CoordinatorService(Sequencer sequencer, WorkerRegistry registry, UpdateValidator validator, CoordinatorMetrics metrics) {
        this.sequencer = sequencer;
        this.registry = registry;
        this.validator = validator;
        this.metrics = metrics;
        this.maxInflightBytes = Math.max(4 * validator.maxBytes(), 1L << 30);
        this.buffers = new ReceiveBuffers(validator.maxBytes(), 4);
    }

    @Override
    public void register(RegisterRequest req, StreamObserver<RegisterReply> out) {
        WorkerRegistry.Worker w = registry.register(req.getName(), req.getCapabilities());
        RegisterReply.Builder reply = RegisterReply.newBuilder()
                .setWorkerId(w.id())
                .setLeaseMillis(registry.lease().toMillis())
                .setVersion(sequencer.version())
                .setStrategy(sequencer.strategyName())
                .setWaitForNewVersion(ROUND_BASED.contains(sequencer.strategyName()));
        InnerLoop inner = sequencer.innerLoop();
        if (inner != null) {
            reply.setInnerLoop(InnerLoops.toProto(inner));
        }
        out.onNext(reply.build());
        out.onCompleted();
    }

    @Override
    public void heartbeat(HeartbeatRequest req, StreamObserver<HeartbeatReply> out) {
        if (!registry.heartbeat(req.getWorkerId())) {
            out.onError(Status.NOT_FOUND.withDescription("worker " + req.getWorkerId() + " is not registered (or its lease ran out): register again")
                    .asRuntimeException());
            return;
        }
        out.onNext(HeartbeatReply.newBuilder().setLeaseMillis(registry.lease().toMillis()).setVersion(sequencer.version()).build());
        out.onCompleted();
    }

    @Override
    public void pullModel(PullRequest req, StreamObserver<ModelPart> plain) {
        ServerCallStreamObserver<ModelPart> out = (ServerCallStreamObserver<ModelPart>) plain;
        ModelSender sender = new ModelSender(out, req.getKnownVersion());
        out.setOnReadyHandler(sender::pump);
        out.setOnCancelHandler(() -> {});
        sequencer.image().whenComplete((image, error) -> {
            if (error != null) {
                out.onError(Status.UNAVAILABLE.withDescription("model not available: " + unwrap(error).getMessage()).asRuntimeException());
            } else {
                sender.start(image);
            }
        });
    }

    /** Streams one image in chunks as fast as the transport is ready for them. */
    private final class ModelSender {
        private final ServerCallStreamObserver<ModelPart> out;
        private final long knownVersion;
        private ModelImage image;
        private int next;
        private boolean done;

        ModelSender(ServerCallStreamObserver<ModelPart> out, long knownVersion) {
            this.out = out;
            this.knownVersion = knownVersion;
        }

        synchronized void start(ModelImage image) {
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

        synchronized void pump() {
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
                metrics.bytesOut(c.length);
                next++;
            }
            if (next == image.chunkCount()) {
                done = true;
                out.onCompleted();
            }
        }
    }

    @Override
    public StreamObserver<UpdatePart> pushUpdate(StreamObserver<PushAck> out) {
        return new UpdateReceiver(out);
    }

    /** Assembles one pushed update, checking each chunk as it arrives. */
    private final class UpdateReceiver implements StreamObserver<UpdatePart> {
        private final StreamObserver<PushAck> out;
        private final CRC32C crc = new CRC32C();
        private UpdateHeader header;
        private ReceiveBuffers.Lease lease;
        private MemorySegment image;
        private long received;
        private long reserved;
        private boolean finished;

        UpdateReceiver(StreamObserver<PushAck> out) {
            this.out = out;
        }

        @Override
        public void onNext(UpdatePart part) {
            if (finished) {
                return;
            }
            try {
                if (part.hasHeader()) {
                    onHeader(part.getHeader());
                } else if (part.hasChunk()) {
                    onChunk(part.getChunk());
                } else {
                    throw Refusal.invalid("malformed", "empty update part");
                }
            } catch (Refusal r) {
                refuse(r);
            }
        }

        private void onHeader(UpdateHeader h) {
            if (header != null) {
                throw Refusal.invalid("malformed", "a second update header");
            }
            validator.checkHeader(h);
            long size = h.getDeltaBytes();
            if (inflightBytes.addAndGet(size) > maxInflightBytes) {
                inflightBytes.addAndGet(-size);
                throw new Refusal(Status.Code.UNAVAILABLE, "busy", "updates in flight hold more than "
                        + maxInflightBytes + " bytes: retry later");
            }
            reserved = size;
            header = h;
            lease = buffers.acquire(size);
            image = lease.data();
        }

        private void onChunk(Chunk c) {
            if (header == null) {
                throw Refusal.invalid("malformed", "a chunk before the update header");
            }
            ByteString data = c.getData();
            if (c.getOffset() != received) {
                throw Refusal.invalid("malformed", "chunk at offset " + c.getOffset() + ": expected offset " + received);
            }
            if (data.size() > header.getDeltaBytes() - received) {
                throw Refusal.tooLarge("size", "chunk at offset " + c.getOffset() + " of " + data.size()
                        + " bytes runs past delta_bytes " + header.getDeltaBytes());
            }
            // Copied first, then checked where it landed: CRC32C runs fastest over native memory.
            ByteBuffer landed = image.asSlice(received, data.size()).asByteBuffer();
            data.copyTo(landed);
            crc.reset();
            crc.update(landed.flip());
            if ((int) crc.getValue() != c.getCrc32C()) {
                throw new Refusal(Status.Code.DATA_LOSS, "crc", "chunk at offset " + c.getOffset() + ": CRC32C mismatch");
            }
            received += data.size();
            metrics.bytesIn(data.size());
        }

        @Override
        public void onError(Throwable t) {
            finished = true;
            release();
        }

        @Override
        public void onCompleted() {
            if (finished) {
                return;
            }
            finished = true;
            try {
                if (header == null) {
                    throw Refusal.invalid("malformed", "no update header");
                }
                if (received != header.getDeltaBytes()) {
                    throw Refusal.invalid("malformed", "received " + received + " of delta_bytes " + header.getDeltaBytes());
                }
                TensorMap delta = validator.checkDelta(image);
                UpdateHeader h = header;
                ReceiveBuffers.Lease owned = lease;
                lease = null;
                sequencer.submit(h.getWorkerId(), h.getUpdateId(), h.getBaseVersion(), h.getExamples(), h.getLocalSteps(),
                        h.getMetricsMap(), image, delta, () -> buffers.release(owned)).whenComplete((ack, error) -> {
                            release();
                            if (error == null) {
                                out.onNext(PushAck.newBuilder().setUpdateId(ack.updateId()).setDuplicate(ack.duplicate())
                                        .setVersion(ack.version()).setStaleness(ack.staleness()).build());
                                out.onCompleted();
                            } else if (unwrap(error) instanceof Refusal r) {
                                metrics.refused(r.reason());
                                out.onError(r.toStatus());
                            } else if (unwrap(error) instanceof StatusRuntimeException s) {
                                out.onError(s);
                            } else {
                                out.onError(Status.INTERNAL.withDescription(String.valueOf(unwrap(error).getMessage())).asRuntimeException());
                            }
                        });
            } catch (Refusal r) {
                refuse(r);
            }
        }

        private void refuse(Refusal r) {
            finished = true;
            release();
            metrics.refused(r.reason());
            out.onError(r.toStatus());
        }

        /** Gives back the in-flight reservation, and the buffer unless the sequencer took it over. */
        private void release() {
            inflightBytes.addAndGet(-reserved);
            reserved = 0;
            image = null;
            if (lease != null) {
                buffers.release(lease);
                lease = null;
            }
        }
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
