package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.strategy.InnerLoop;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.HeartbeatReply;
import dev.tributary.protocol.HeartbeatRequest;
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
import java.lang.foreign.MemorySegment;

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
    public void pullModel(PullRequest req, StreamObserver<ModelPart> out) {
        ModelSender.serve(out, req.getKnownVersion(), sequencer.pull(req.getWorkerId(), req.getKnownVersion(),
                        req.getAcceptVersionDelta(), req.getPullCodec(), req.getFragmentPull() ? req.getFragment() : -1),
                metrics::bytesOut, metrics::pulled);
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
