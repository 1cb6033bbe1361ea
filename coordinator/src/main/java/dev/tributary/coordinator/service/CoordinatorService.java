package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.ModelImage;
import dev.tributary.coordinator.validation.Refusal;
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
import dev.tributary.protocol.UpdatePart;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Set;

/** The gRPC face of the coordinator: registration, leases, model pulls and update pushes. */
final class CoordinatorService extends CoordinatorGrpc.CoordinatorImplBase implements AutoCloseable {
    /** Strategies whose workers wait for a new version after pushing. */
    private static final Set<String> ROUND_BASED = Set.of("fedavg", "diloco");

    private final Sequencer sequencer;
    private final WorkerRegistry registry;
    private final CoordinatorMetrics metrics;
    private final Pushes pushes;

    CoordinatorService(Sequencer sequencer, WorkerRegistry registry, CoordinatorMetrics metrics, Pushes pushes) {
        this.sequencer = sequencer;
        this.registry = registry;
        this.metrics = metrics;
        this.pushes = pushes;
    }

    @Override
    public void register(RegisterRequest req, StreamObserver<RegisterReply> out) {
        try {
            RegistrationCheck.check(req);
        } catch (Refusal r) {
            metrics.registrationRefused(r.reason());
            out.onError(r.toStatus());
            return;
        }
        WorkerRegistry.Worker w = registry.register(req.getName(), req.getCapabilities());
        if (w == null) {
            Refusal r = Refusal.retryLater(Status.Code.RESOURCE_EXHAUSTED, "workers", registry.maxWorkers()
                    + " workers are registered (max_workers): retry later", registry.lease().toMillis());
            metrics.registrationRefused(r.reason());
            out.onError(r.toStatus());
            return;
        }
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
    public void pullModel(PullRequest req, StreamObserver<ModelPart> plain) {
        ServerCallStreamObserver<ModelPart> out = (ServerCallStreamObserver<ModelPart>) plain;
        ModelSender sender = new ModelSender(out, req.getKnownVersion());
        out.setOnReadyHandler(sender::pump);
        out.setOnCancelHandler(() -> {});
        sequencer.image().whenComplete((image, error) -> {
            if (error != null) {
                out.onError(Status.UNAVAILABLE.withDescription("model not available: " + Pushes.describe(Pushes.unwrap(error))).asRuntimeException());
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
        return pushes.open(out);
    }

    Pushes pushes() {
        return pushes;
    }

    @Override
    public void close() {
        pushes.close();
    }
}
