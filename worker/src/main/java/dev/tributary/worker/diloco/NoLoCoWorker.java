package dev.tributary.worker.diloco;

import dev.tributary.protocol.NoLoCoPlanRequest;
import dev.tributary.protocol.OuterStateHeader;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerStateHeader;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.client.BearerToken;
import io.grpc.Channel;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.Map;

/**
 * A NoLoCo worker over the {@code PeerRelay} service: opens a replica from the initial weights (pulled as
 * for any strategy) and runs rounds of H inner steps, one exchange ({@code ExchangeStream}: φ and δ up in
 * chunks, the peer's down) and one outer step ({@link NoLoCoLoop}). A failed exchange is an error of the
 * round; the loop's state is left as before the round's outer step, so a caller may retry
 * {@link #exchangeAndStep}, which sends the same offer (the same bytes) again.
 */
public final class NoLoCoWorker implements AutoCloseable {
    private static final long MESSAGE_LIMIT = 8 << 20;
    private volatile String id;
    private final PeerRelayGrpc.PeerRelayStub relay;
    private final NoLoCoLoop loop;
    private final long maxImageBytes;
    private NoLoCoLoop.Offer offer;
    private Arena offerArena;
    private MemorySegment offerOuter;
    private MemorySegment offerGradient;

    /**
     * What one exchange did.
     *
     * @param header     the relay's answer (exchange count, the peer drawn)
     * @param round      the outer steps before this one
     * @param outerSha256 SHA-256 (hex) of the φ image this worker offered
     * @param bytesUp    bytes of φ and δ sent
     * @param bytesDown  bytes of the peer's φ and δ received (0 unpaired)
     * @param offer      the round's training result (examples, loss)
     */
    public record Exchanged(PeerStateHeader header, long round, String outerSha256, long bytesUp, long bytesDown,
            NoLoCoLoop.Offer offer) {
        /** SHA-256 (hex) of the peer's φ image, or null unpaired. */
        public String peerOuterSha256() {
            return header.getPaired() ? HexFormat.of().formatHex(header.getOuterSha256().toByteArray()) : null;
        }
    }

    /** Asks the relay for the plan, then as {@link #NoLoCoWorker(String, Channel, String, NoLoCoPlan, LocalTrainer, TensorMap, long)}. */
    public NoLoCoWorker(String id, Channel channel, String token, LocalTrainer trainer, TensorMap initial, long seed) {
        this(id, channel, token, plan(channel, token, id), trainer, initial, seed);
    }

    /**
     * @param channel to the relay; not closed here
     * @param trainer opens the replica ({@link LocalTrainer#open})
     * @param initial the weights every worker starts from (f32)
     */
    public NoLoCoWorker(String id, Channel channel, String token, NoLoCoPlan plan, LocalTrainer trainer, TensorMap initial,
            long seed) {
        this.id = id;
        this.relay = PeerRelayGrpc.newStub(channel).withCallCredentials(new BearerToken(token));
        this.loop = new NoLoCoLoop(plan, trainer.open(initial, plan.optimizer(), seed), initial);
        // The peer's images have the model's layout: its image size plus room for header formatting.
        this.maxImageBytes = Safetensors.encodedSize(initial, Map.of()) + (64 << 10);
    }

    /** The relay's plan for worker {@code id}. */
    public static NoLoCoPlan plan(Channel channel, String token, String id) {
        return NoLoCoPlan.of(PeerRelayGrpc.newBlockingStub(channel).withCallCredentials(new BearerToken(token))
                .withMaxInboundMessageSize((int) MESSAGE_LIMIT)
                .plan(NoLoCoPlanRequest.newBuilder().setWorkerId(id).build()));
    }

    /** The id exchanges are sent under (the coordinator's registration id); changed after registering again. */
    public void workerId(String id) {
        this.id = id;
    }

    public NoLoCoLoop loop() {
        return loop;
    }

    /** Whether a round was trained and its exchange not done yet. */
    public boolean offered() {
        return offer != null;
    }

    /** One round: H inner steps (unless a failed exchange left them prepared), the exchange, the outer step. */
    public Exchanged round() {
        prepare();
        return exchangeAndStep();
    }

    /** Runs the round's H inner steps, unless they are prepared already. */
    public void prepare() {
        if (offer == null) {
            offer = loop.prepare();
            offerArena = Arena.ofShared();
            offerOuter = Safetensors.encode(offer.outer(), Map.of(), offerArena);
            offerGradient = Safetensors.encode(offer.outerGradient(), Map.of(), offerArena);
        }
    }

    /** Sends the prepared offer and steps with the answer. */
    public Exchanged exchangeAndStep() {
        if (offer == null) {
            throw new IllegalStateException("nothing prepared");
        }
        OuterStateCall.Answer a = OuterStateCall.exchange(relay, OuterStateHeader.newBuilder().setWorkerId(id)
                .setRound(offer.round()).setExamples(offer.result().examples()), offerOuter, offerGradient, maxImageBytes);
        long down = 0;
        if (a.header().getPaired()) {
            loop.step(decode("peer outer", a.outer()), decode("peer outer_gradient", a.outerGradient()));
            down = a.outer().byteSize() + a.outerGradient().byteSize();
        } else {
            loop.step(null, null);
        }
        Exchanged e = new Exchanged(a.header(), offer.round(), HexFormat.of().formatHex(a.sentOuterSha256()),
                offerOuter.byteSize() + offerGradient.byteSize(), down, offer);
        dropOffer();
        return e;
    }

    private void dropOffer() {
        offer = null;
        if (offerArena != null) {
            offerArena.close();
            offerArena = null;
        }
    }

    /** A copy of the image's tensors (f32). */
    static TensorMap decode(String label, MemorySegment bytes) {
        SafetensorsFile f = SafetensorsFile.of(bytes, label);
        TensorMap m = new TensorMap();
        for (String n : f.names()) {
            Tensor t = f.tensor(n);
            m.put(n, Tensor.ofFloats(t.shape(), t.toFloatArray()));
        }
        return m;
    }

    @Override
    public void close() {
        dropOffer();
        loop.close();
    }
}
