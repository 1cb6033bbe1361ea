package dev.tributary.worker.diloco;

import com.google.protobuf.ByteString;
import dev.tributary.protocol.NoLoCoPlanRequest;
import dev.tributary.protocol.OuterState;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerState;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.client.BearerToken;
import io.grpc.Channel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * A NoLoCo worker over the {@code PeerRelay} service: asks for the plan, opens a replica from the initial
 * weights (pulled as for any strategy), and runs rounds of H inner steps, one exchange and one outer step
 * ({@link NoLoCoLoop}). A failed exchange is an error of the round; the loop's state is left as before
 * the round's outer step, so a caller may retry {@link #exchangeAndStep} with the same offer.
 */
public final class NoLoCoWorker implements AutoCloseable {
    private final String id;
    private final PeerRelayGrpc.PeerRelayBlockingStub relay;
    private final NoLoCoLoop loop;
    private NoLoCoLoop.Offer offer;

    /**
     * @param channel to the relay; not closed here
     * @param trainer opens the replica ({@link LocalTrainer#open})
     * @param initial the weights every worker starts from
     */
    public NoLoCoWorker(String id, Channel channel, String token, LocalTrainer trainer, TensorMap initial, long seed) {
        this.id = id;
        this.relay = PeerRelayGrpc.newBlockingStub(channel).withCallCredentials(new BearerToken(token));
        NoLoCoPlan plan = NoLoCoPlan.of(relay.plan(NoLoCoPlanRequest.newBuilder().setWorkerId(id).build()));
        this.loop = new NoLoCoLoop(plan, trainer.open(initial, plan.optimizer(), seed), initial);
    }

    public NoLoCoLoop loop() {
        return loop;
    }

    /** One round: H inner steps, the exchange, the outer step. Returns the relay's answer. */
    public PeerState round() {
        if (offer == null) {
            offer = loop.prepare();
        }
        return exchangeAndStep();
    }

    /** Sends the prepared offer and steps with the answer. */
    public PeerState exchangeAndStep() {
        if (offer == null) {
            throw new IllegalStateException("nothing prepared");
        }
        PeerState p = relay.exchange(OuterState.newBuilder().setWorkerId(id).setRound(offer.round())
                .setOuter(encode(offer.outer())).setOuterGradient(encode(offer.outerGradient()))
                .setExamples(offer.result().examples()).build());
        if (p.getPaired()) {
            loop.step(decode("peer outer", p.getOuter()), decode("peer outer_gradient", p.getOuterGradient()));
        } else {
            loop.step(null, null);
        }
        offer = null;
        return p;
    }

    static ByteString encode(TensorMap m) {
        return ByteString.copyFrom(Safetensors.encode(m, Map.of(), Arena.ofAuto()).asByteBuffer());
    }

    /** A copy of the image's tensors (f32). */
    static TensorMap decode(String label, ByteString bytes) {
        SafetensorsFile f = SafetensorsFile.of(MemorySegment.ofArray(bytes.toByteArray()), label);
        TensorMap m = new TensorMap();
        for (String n : f.names()) {
            Tensor t = f.tensor(n);
            m.put(n, Tensor.ofFloats(t.shape(), t.toFloatArray()));
        }
        return m;
    }

    @Override
    public void close() {
        loop.close();
    }
}
