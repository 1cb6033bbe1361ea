package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.HeartbeatReply;
import dev.tributary.protocol.HeartbeatRequest;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.RegisterReply;
import dev.tributary.protocol.RegisterRequest;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.MemorySegment;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;

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
        out.onNext(RegisterReply.newBuilder()
                .setWorkerId(w.id())
                .setLeaseMillis(registry.lease().toMillis())
                .setVersion(sequencer.version())
                .setStrategy(sequencer.strategyName())
                .setWaitForNewVersion(ROUND_BASED.contains(sequencer.strategyName()))
                .build());
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
    public void pullModel(PullRequest req, StreamObserver<ModelPart> out) {
        ModelSender.serve(out, req.getKnownVersion(), sequencer.image(), metrics::bytesOut);
    }

    @Override
    public StreamObserver<UpdatePart> pushUpdate(StreamObserver<PushAck> out) {
        return new UpdateReceiver(out);
    }

    /** Assembles one pushed update, checking each chunk as it arrives. */
    private final class UpdateReceiver implements StreamObserver<UpdatePart> {
        private final StreamObserver<PushAck> out;
        private UpdateHeader header;
        private ChunkAssembler assembler;
        private ReceiveBuffers.Lease lease;
        private MemorySegment image;
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
            assembler = new ChunkAssembler(image, "delta_bytes");
        }

        private void onChunk(Chunk c) {
            if (header == null) {
                throw Refusal.invalid("malformed", "a chunk before the update header");
            }
            metrics.bytesIn(assembler.append(c));
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
                assembler.checkComplete();
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
