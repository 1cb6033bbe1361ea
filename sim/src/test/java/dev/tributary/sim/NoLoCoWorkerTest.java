package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.ServiceLimits;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.relay.Members;
import dev.tributary.coordinator.relay.PeerRelayService;
import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.protocol.NoLoCoPlanRequest;
import dev.tributary.protocol.OuterState;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerStateHeader;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.client.BearerToken;
import dev.tributary.worker.diloco.NoLoCoWorker;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two NoLoCo workers over the real protocol: the PeerRelay service (behind the coordinator's bearer-token
 * check) on an in-process server, the workers' own loop on the constant-gradient fixture, every number
 * computed by hand from the outer step's formula.
 */
class NoLoCoWorkerTest {
    static final String TOKEN = "noloco-fixture-token";
    private Server server;
    private ManagedChannel channel;
    private String name;
    private PeerRelayService service;
    private final AtomicInteger refused = new AtomicInteger();

    @TempDir
    Path held;
    private final List<java.util.concurrent.ExecutorService> pools = new java.util.ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        // H 3 inner SGD steps at lr 1 on a gradient of 2: δ = φ − θ = 6 every round. α = β = γ = 0.5.
        name = InProcessServerBuilder.generateName();
        server = serve(relay());
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    }

    private static NoLoCoRelay relay() {
        return relay("latest");
    }

    private static NoLoCoRelay relay(String matching) {
        return NoLoCoRelay.create(Map.of("inner_steps", 3, "momentum", 0.5, "outer_lr", 0.5,
                "peer_pull", 0.5, "inner_optimizer", Map.of("name", "sgd", "lr", 1.0), "matching", matching),
                ConstantGradient.model());
    }

    @Test
    void underPairsMatchingBothWorkersStepWithEachOthersStateOfTheSameRound() throws Exception {
        server.shutdownNow().awaitTermination();
        server = serve(relay("pairs"));
        ConstantGradient trainer = new ConstantGradient();
        try (NoLoCoWorker a = new NoLoCoWorker("a", channel, TOKEN, trainer, ConstantGradient.model(), 1);
                NoLoCoWorker b = new NoLoCoWorker("b", channel, TOKEN, trainer, ConstantGradient.model(), 2)) {
            // A, round 0: nobody else holds a state, so it is answered at once, alone: Δ = −3, φ = −2.
            assertFalse(a.round().header().getPaired());
            // B, round 0 (φ 1, δ 6) waits for A, the other worker holding a state ...
            java.util.concurrent.CompletableFuture<NoLoCoWorker.Exchanged> bRound =
                    java.util.concurrent.CompletableFuture.supplyAsync(b::round);
            long until = System.nanoTime() + 30_000_000_000L;
            while (service.waiting() < 1 && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertEquals(1, service.waiting(), "B's offer is held, waiting");
            Thread.sleep(200);
            assertFalse(bRound.isDone(), "B waits for its partner");
            // ... and A's round 1 (φ −2, δ 6) completes the pair. A gets B's round 0: mean φ −0.5,
            // Δ = 0.5·(−3) − 0.5·6 − 0.5·(−2 + 0.5) = −3.75, φ = −5.75.
            NoLoCoWorker.Exchanged pa = a.round();
            NoLoCoWorker.Exchanged pb = bRound.get(30, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals("b", pa.header().getPeerId());
            assertEquals(0, pa.header().getPeerRound());
            assertEquals(-5.75f, a.loop().outer().tensor("f0").getFloat(0), 1e-6);
            // B gets A's round 1, not its round 0 (which matching: latest would give, and φ −2):
            // own φ 1, mean φ −0.5, Δ = 0 − 0.5·6 − 0.5·(1 + 0.5) = −3.75, φ = −2.75.
            assertEquals("a", pb.header().getPeerId());
            assertEquals(1, pb.header().getPeerRound());
            assertEquals(pa.outerSha256(), pb.peerOuterSha256(), "B got exactly what A offered in this round");
            assertEquals(-2.75f, b.loop().outer().tensor("f0").getFloat(0), 1e-6);
        }
    }

    private Server serve(NoLoCoRelay relay) throws java.io.IOException {
        service = PeerRelayService.open(held, relay, Members.ANYONE, ServiceLimits.DEFAULTS,
                Duration.ofSeconds(15), new CoordinatorMetrics(), m -> { });
        java.util.concurrent.ExecutorService pool = Executors.newFixedThreadPool(2);
        pools.add(pool);
        return InProcessServerBuilder.forName(name).executor(pool)
                .addService(PeerRelayService.authenticated(service, Tokens.of(List.of(TOKEN)), refused::incrementAndGet))
                .build().start();
    }

    @Test
    void aRelayKilledMidRunKeepsWhatItAcknowledged() throws Exception {
        ConstantGradient trainer = new ConstantGradient();
        try (NoLoCoWorker a = new NoLoCoWorker("a", channel, TOKEN, trainer, ConstantGradient.model(), 1);
                NoLoCoWorker b = new NoLoCoWorker("b", channel, TOKEN, trainer, ConstantGradient.model(), 2)) {
            a.round();
            b.round(); // both at φ −2 (see the test above)
            server.shutdownNow().awaitTermination();
            StatusRuntimeException down = assertThrows(StatusRuntimeException.class, a::round);
            assertEquals(Status.Code.UNAVAILABLE, down.getStatus().getCode());
            assertEquals(-2f, a.loop().outer().tensor("f0").getFloat(0), "a failed exchange takes no outer step");
            assertEquals(1, a.loop().round());
            server = serve(relay()); // on the same folder
            // The same offer again, once the channel reaches the new relay (bounded wait).
            NoLoCoWorker.Exchanged p = null;
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (p == null) {
                try {
                    p = a.exchangeAndStep();
                } catch (StatusRuntimeException e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(50);
                }
            }
            // The restarted relay still holds B's acknowledged round 0 (φ 1, δ 6): A pairs with it, own φ −2,
            // mean φ −0.5: Δ = 0.5·(−3) − 0.5·6 − 0.5·(−2 + 0.5) = −3.75, φ = −5.75.
            assertTrue(p.header().getPaired());
            assertEquals("b", p.header().getPeerId());
            assertEquals(0, p.header().getPeerRound());
            assertEquals(3, p.header().getExchange(), "the count continues from the highest one held");
            assertEquals(-5.75f, a.loop().outer().tensor("f0").getFloat(0), 1e-6);
            // B pairs with A's new offer (φ −2, δ 6): Δ = −1.5 − 3 − 0 = −4.5, φ = −6.5.
            NoLoCoWorker.Exchanged q = b.round();
            assertEquals("a", q.header().getPeerId());
            assertEquals(1, q.header().getPeerRound());
            assertEquals(p.outerSha256(), q.peerOuterSha256(), "B got exactly what A offered");
            assertEquals(-6.5f, b.loop().outer().tensor("f0").getFloat(0), 1e-6);
        }
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
        pools.forEach(java.util.concurrent.ExecutorService::shutdownNow);
    }

    @Test
    void twoWorkersTakeTheOuterStepsOfTheFormula() {
        ConstantGradient trainer = new ConstantGradient();
        try (NoLoCoWorker a = new NoLoCoWorker("a", channel, TOKEN, trainer, ConstantGradient.model(), 1);
                NoLoCoWorker b = new NoLoCoWorker("b", channel, TOKEN, trainer, ConstantGradient.model(), 2)) {
            assertEquals(3, a.loop().plan().innerSteps());
            assertEquals(0.5, a.loop().plan().peerPull());
            // A, round 0: no peer yet. Δ = −0.5·6 = −3, φ = −2.
            PeerStateHeader p = a.round().header();
            assertFalse(p.getPaired());
            assertEquals(1, p.getExchange());
            // B, round 0: A's offer (φ 1, δ 6): mean δ 6, mean φ 1, Δ = −3, φ = −2.
            p = b.round().header();
            assertTrue(p.getPaired());
            assertEquals("a", p.getPeerId());
            assertEquals(0, p.getPeerRound());
            // A, round 1: B's offer (φ 1, δ 6); own φ −2: mean φ −0.5,
            // Δ = 0.5·(−3) − 0.5·6 − 0.5·(−2 + 0.5) = −3.75, φ = −5.75.
            p = a.round().header();
            assertEquals("b", p.getPeerId());
            assertEquals(3, p.getExchange());
            // B, round 1: A's offer (φ −2, δ 6); own φ −2: Δ = −1.5 − 3 − 0 = −4.5, φ = −6.5.
            b.round();
            assertEquals(-5.75f, a.loop().outer().tensor("f0").getFloat(0), 1e-6);
            assertEquals(-6.5f, b.loop().outer().tensor("f1").getFloat(0), 1e-6);
            // The replicas restart from φ after each outer step.
            assertEquals(List.of(Map.of("f0", -2f, "f1", -2f), Map.of("f0", -5.75f, "f1", -5.75f)), trainer.assigned.get(0));
            assertEquals(List.of(Map.of("f0", -2f, "f1", -2f), Map.of("f0", -6.5f, "f1", -6.5f)), trainer.assigned.get(1));
        }
    }

    @Test
    void callsWithoutTheTokenAreRefusedBeforeAnythingIsRead() {
        PeerRelayGrpc.PeerRelayBlockingStub anonymous = PeerRelayGrpc.newBlockingStub(channel);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> anonymous.plan(NoLoCoPlanRequest.newBuilder().setWorkerId("x").build()));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        PeerRelayGrpc.PeerRelayBlockingStub wrong = anonymous.withCallCredentials(new BearerToken("not-the-token"));
        e = assertThrows(StatusRuntimeException.class, () -> wrong.exchange(offer("x", ConstantGradient.model())));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        assertEquals(2, refused.get());
    }

    @Test
    void aStateThatDoesNotFitIsRefusedNamingTheTensor() {
        PeerRelayGrpc.PeerRelayBlockingStub relay = PeerRelayGrpc.newBlockingStub(channel)
                .withCallCredentials(new BearerToken(TOKEN));
        TensorMap wrong = new TensorMap().put("f0", Tensor.ofFloats(new long[] {2}, 1, 2))
                .put("f1", Tensor.ofFloats(new long[] {1}, 1));
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> relay.exchange(offer("x", wrong)));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertEquals("outer: tensor f0: state shape [2] != model shape [1]", e.getStatus().getDescription());
        e = assertThrows(StatusRuntimeException.class, () -> relay.exchange(OuterState.newBuilder().setWorkerId("x")
                .setOuter(ByteString.copyFromUtf8("not safetensors")).build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("outer"), e.getStatus().getDescription());
        // Nothing refused was kept: the next worker finds no peer.
        assertFalse(relay.exchange(offer("y", ConstantGradient.model())).getPaired());
    }

    private static OuterState offer(String id, TensorMap outer) {
        ByteString image = ByteString.copyFrom(Safetensors.encode(outer, Map.of(), Arena.ofAuto()).asByteBuffer());
        return OuterState.newBuilder().setWorkerId(id).setOuter(image).setOuterGradient(image).build();
    }
}
