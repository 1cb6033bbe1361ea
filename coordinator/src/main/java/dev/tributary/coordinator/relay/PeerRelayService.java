package dev.tributary.coordinator.relay;

import com.google.protobuf.ByteString;
import dev.tributary.coordinator.auth.BearerAuth;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.service.InnerLoops;
import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.protocol.NoLoCoPlan;
import dev.tributary.protocol.NoLoCoPlanRequest;
import dev.tributary.protocol.OuterState;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerState;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.TensorMap;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * The {@code PeerRelay} service over a {@link NoLoCoRelay}: decodes the caller's outer state, pairs it,
 * answers with the peer's. Refusals are statuses naming the rule (INVALID_ARGUMENT for a state that does
 * not fit the model or is not safetensors).
 */
public final class PeerRelayService extends PeerRelayGrpc.PeerRelayImplBase {
    private static final int MAX_WORKER_ID = 256;
    private final NoLoCoRelay relay;

    public PeerRelayService(NoLoCoRelay relay) {
        this.relay = relay;
    }

    /** This service behind the coordinator's bearer-token check, ready for a server builder. */
    public static ServerServiceDefinition authenticated(NoLoCoRelay relay, Tokens tokens, Runnable onRefused) {
        return ServerInterceptors.intercept(new PeerRelayService(relay), new BearerAuth(tokens, onRefused));
    }

    @Override
    public void plan(NoLoCoPlanRequest request, StreamObserver<NoLoCoPlan> out) {
        out.onNext(NoLoCoPlan.newBuilder().setInner(InnerLoops.toProto(relay.innerLoop()))
                .setMomentum(relay.momentum()).setOuterLr(relay.outerLr()).setPeerPull(relay.peerPull()).build());
        out.onCompleted();
    }

    @Override
    public void exchange(OuterState request, StreamObserver<PeerState> out) {
        String id = request.getWorkerId();
        if (id.isEmpty() || id.length() > MAX_WORKER_ID) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("worker_id: must be 1 to " + MAX_WORKER_ID
                    + " characters, got " + id.length()).asRuntimeException());
            return;
        }
        if (request.getRound() < 0) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("round < 0: " + request.getRound()).asRuntimeException());
            return;
        }
        NoLoCoRelay.Pairing p;
        try (Arena arena = Arena.ofConfined()) {
            NoLoCoRelay.State offer = new NoLoCoRelay.State(id, request.getRound(),
                    decode("outer", request.getOuter(), arena), decode("outer_gradient", request.getOuterGradient(), arena));
            p = relay.exchange(offer);
        } catch (IllegalArgumentException | InvalidCheckpointException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        PeerState.Builder b = PeerState.newBuilder().setExchange(p.exchange());
        if (p.peer() != null) {
            b.setPaired(true).setPeerId(p.peer().worker()).setPeerRound(p.peer().round())
                    .setOuter(encode(p.peer().outer())).setOuterGradient(encode(p.peer().outerGradient()));
        }
        out.onNext(b.build());
        out.onCompleted();
    }

    /** The tensors of a safetensors image, as views of memory in {@code arena} (the relay copies what it keeps). */
    private static TensorMap decode(String field, ByteString bytes, Arena arena) {
        MemorySegment seg = arena.allocate(Math.max(1, bytes.size()), 64).asSlice(0, bytes.size());
        seg.copyFrom(MemorySegment.ofArray(bytes.toByteArray()));
        SafetensorsFile f = SafetensorsFile.of(seg, field);
        TensorMap m = new TensorMap();
        for (String n : f.names()) {
            m.put(n, f.tensor(n));
        }
        return m;
    }

    private static ByteString encode(TensorMap m) {
        MemorySegment seg = Safetensors.encode(m, Map.of(), Arena.ofAuto());
        return ByteString.copyFrom(seg.asByteBuffer());
    }
}
