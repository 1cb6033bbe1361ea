package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.ServiceLimits;
import dev.tributary.store.TestModels;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.RegisterRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client generated from our .proto that does what a hostile one would: oversized registrations,
 * header-only and half-sent streams by the hundred, a stream that trickles bytes for ever. The receive
 * memory stays within its budget, the bad streams are cut with their reason counted, and an honest worker
 * beside them keeps getting acks.
 */
class HostileClientTest {
    static final String HONEST = "honest-token-for-tests";
    static final String HOSTILE = "hostile-token-for-tests";
    static final long MAX_UPDATE = 1 << 20;
    static final long BUDGET = 8 * MAX_UPDATE;
    static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path state;

    final List<String> warnings = new ArrayList<>();
    Coordinator coordinator;
    final List<ManagedChannel> channels = new ArrayList<>();
    String name;

    /**
     * Limits small enough to hit quickly: 1 MiB updates, 8 MiB of budget, streams idle for 1 s cut (long enough
     * that the honest worker's pushes are never cut on a loaded machine).
     */
    static ServiceLimits limits() {
        return ServiceLimits.DEFAULTS.withMemoryBudget(BUDGET)
                .withPushDeadlines(Duration.ofSeconds(1), Duration.ofSeconds(2), 1 << 20)
                .withStreamsPer(1000, 4)
                .withMemoryShares(0.5, 0.25);
    }

    void start(ServiceLimits limits) throws IOException {
        start("fedasync", Map.of("alpha", 0.5), TestModels.model(1), limits);
    }

    void start(String strategy, Map<String, Object> strategyConfig, TensorMap model, ServiceLimits limits) throws IOException {
        name = InProcessServerBuilder.generateName();
        CoordinatorConfig config = new CoordinatorConfig(strategy, strategyConfig, 20, 2, Duration.ofSeconds(15),
                MAX_UPDATE, 0, CoordinatorConfig.NormPolicy.REFUSE, Duration.ofMillis(200), limits);
        Consumer<String> warn = m -> {
            synchronized (warnings) {
                warnings.add(m);
            }
        };
        coordinator = Coordinator.start(InProcessServerBuilder.forName(name).directExecutor(), state, model,
                config, Tokens.of(List.of(HONEST, HOSTILE)), warn);
    }

    TestClient client(String token) {
        ManagedChannel ch = InProcessChannelBuilder.forName(name).directExecutor().build();
        channels.add(ch);
        return new TestClient(ch, token);
    }

    @AfterEach
    void stop() throws IOException {
        channels.forEach(ManagedChannel::shutdownNow);
        if (coordinator != null) {
            coordinator.close();
        }
    }

    /** Memory held by streams and the strategy, pooled buffers left out. */
    long inUse() {
        return coordinator.memoryCommitted() - coordinator.memoryPooled();
    }

    /**
     * Memory in use once the buffers of acknowledged updates went back: a buffer returns when the log has
     * written it, which may be a moment after its acknowledgment reached the worker.
     */
    long inUseSettled() throws InterruptedException {
        for (int i = 0; i < 200 && inUse() != 0; i++) {
            Thread.sleep(10);
        }
        return inUse();
    }

    @Test
    void headerOnlyStreamsByTheHundredCommitNothingAndAreCutWhenIdle() throws Exception {
        start(limits());
        TestClient hostile = client(HOSTILE);
        HonestWorker honest = new HonestWorker(client(HONEST));
        List<RawPush> streams = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            streams.add(new RawPush(hostile).header(RawPush.header("h" + i, MAX_UPDATE)));
        }
        // Before: every header took a buffer of the largest update size (300 MiB here, budget 8 MiB).
        assertTrue(coordinator.memoryCommitted() <= 1 << 10, "committed " + coordinator.memoryCommitted());
        for (RawPush s : streams) {
            Status st = s.status(WAIT);
            assertEquals(Status.Code.DEADLINE_EXCEEDED, st.getCode(), st.toString());
            assertTrue(st.getDescription().contains("push_idle_timeout_seconds"), st.getDescription());
        }
        assertEquals(300, coordinator.metrics().refusedCount("idle_timeout"));
        assertTrue(honest.stop() >= 1);
        assertEquals(0, inUseSettled());
        assertTrue(coordinator.memoryCommitted() <= BUDGET);
        String scrape = coordinator.metrics().scrape();
        assertTrue(scrape.contains("tributary_receive_memory_budget_bytes " + (double) BUDGET), scrape);
        assertTrue(scrape.contains("tributary_receive_memory_committed_bytes"), scrape);
        assertTrue(scrape.contains("tributary_updates_refused_total{reason=\"idle_timeout\"} 300.0"), scrape);
    }

    @Test
    void halfSentStreamsStayWithinTheirTokensShareAndGiveTheirMemoryBackWhenCut() throws Exception {
        // Idle for 3 s cut: no stream is cut before all 40 are sent, even on a loaded machine.
        start(limits().withPushDeadlines(Duration.ofSeconds(3), Duration.ofSeconds(8), 1 << 20));
        TestClient hostile = client(HOSTILE);
        HonestWorker honest = new HonestWorker(client(HONEST));
        List<RawPush> streams = new ArrayList<>();
        long peak = 0;
        for (int i = 0; i < 40; i++) {
            streams.add(new RawPush(hostile).header(RawPush.header("h" + i, MAX_UPDATE)).chunk(256 << 10).chunk(256 << 10));
            peak = Math.max(peak, coordinator.memoryCommitted());
        }
        // The hostile token may hold half the budget: four streams of 1 MiB each; the rest are refused busy.
        // (The honest worker's buffers are a few hundred bytes.)
        assertTrue(peak <= BUDGET / 2 + (64 << 10), "peak " + peak);
        int busy = 0;
        for (RawPush s : streams) {
            if (s.done()) {
                Status st = s.status(WAIT);
                assertEquals(Status.Code.UNAVAILABLE, st.getCode(), st.toString());
                assertTrue(st.getDescription().contains("busy, retry later"), st.getDescription());
                busy++;
            }
        }
        assertEquals(36, busy);
        assertEquals(36, coordinator.metrics().refusedCount("busy"));
        for (RawPush s : streams) {
            s.status(WAIT);
        }
        assertEquals(4, coordinator.metrics().refusedCount("idle_timeout"));
        assertTrue(honest.stop() >= 1);
        assertEquals(0, inUseSettled());
    }

    @Test
    void aStreamTricklingBytesForEverIsCutForSlowness() throws Exception {
        // Idle for 3 s cut (a chunk goes every 0.1 s: never idle that long), slowness at 0.6 s + size/rate.
        start(limits().withPushDeadlines(Duration.ofSeconds(3), Duration.ofMillis(600), 1 << 20));
        TestClient hostile = client(HOSTILE);
        HonestWorker honest = new HonestWorker(client(HONEST));
        long t0 = System.nanoTime();
        RawPush trickle = new RawPush(hostile).header(RawPush.header("slow", MAX_UPDATE));
        while (!trickle.done() && System.nanoTime() - t0 < WAIT.toNanos()) {
            trickle.chunk(1024);
            Thread.sleep(100);
        }
        Status st = trickle.status(WAIT);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(Status.Code.DEADLINE_EXCEEDED, st.getCode(), st.toString());
        assertTrue(st.getDescription().contains("push_min_bytes_per_second"), st.getDescription());
        // Its deadline: 0.6 s + 1 MiB at 1 MiB/s.
        assertTrue(seconds > 1.5 && seconds < 8, "cut after " + seconds + " s: " + st.getDescription());
        assertEquals(1, coordinator.metrics().refusedCount("too_slow"));
        assertTrue(honest.stop() >= 1);
        assertEquals(0, inUseSettled());
    }

    /** Pushes small valid updates one after another on its own thread, each of which must be acked. */
    final class HonestWorker {
        private final Thread thread;
        private volatile boolean stop;
        private volatile int acks;
        private volatile Throwable failure;

        HonestWorker(TestClient c) {
            thread = Thread.ofPlatform().name("honest-worker").start(() -> {
                try {
                    while (!stop) {
                        assertNotNull(c.push(TestModels.delta(acks, 0.01f), coordinator.version()));
                        acks++;
                    }
                } catch (Throwable t) {
                    failure = t;
                }
            });
        }

        /** Stops after the push under way; the number of acks. */
        int stop() throws InterruptedException {
            stop = true;
            thread.join();
            if (failure != null) {
                throw new AssertionError("honest push failed after " + acks + " acks", failure);
            }
            return acks;
        }
    }

    @Test
    void theBudgetHoldsUpdatesExactlyToItsLastByte() throws Exception {
        // Eight updates of 1 MiB fill the 8 MiB budget exactly; a ninth byte is refused.
        start(limits().withMemoryShares(1.0, 1.0).withPushDeadlines(Duration.ofSeconds(5), Duration.ofSeconds(5), 1 << 20));
        TestClient hostile = client(HOSTILE);
        List<RawPush> full = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            full.add(new RawPush(hostile).header(RawPush.header("h" + i, MAX_UPDATE)).chunk((int) MAX_UPDATE - 1));
        }
        assertEquals(BUDGET, coordinator.memoryCommitted());
        assertFalse(full.stream().anyMatch(RawPush::done));
        RawPush over = new RawPush(hostile).header(RawPush.header("over", MAX_UPDATE)).chunk(1);
        assertEquals(Status.Code.UNAVAILABLE, over.status(WAIT).getCode());
        assertEquals(BUDGET, coordinator.memoryCommitted());
        full.getFirst().cancel();
        RawPush fits = new RawPush(hostile).header(RawPush.header("fits", MAX_UPDATE)).chunk((int) MAX_UPDATE);
        assertFalse(fits.done());
        assertEquals(BUDGET, coordinator.memoryCommitted());
    }

    /**
     * A FedBuff buffer may hold many more updates than the receive budget has room for: with the mean it folds
     * each delta in and the buffer goes back at once. Here the examples floor lets a flood of one-example
     * updates share a buffer of up to 64 updates of almost 1 MiB each, with 16 MiB of budget: when held
     * updates kept their buffers, the 16th filled the budget, every push after it was busy, and no publish came.
     */
    @Test
    void aFloodOfTinyUpdatesIntoALargeFedBuffBufferNeverFillsTheBudget() throws Exception {
        long budget = 2 * BUDGET;
        int floats = 250_000; // 1,000,000 bytes of delta, just under MAX_UPDATE with its header
        TensorMap model = new TensorMap().put("w", Tensor.ofFloats(new long[] {floats}, new float[floats]));
        start("fedbuff", Map.of("buffer_size", "auto", "initial_buffer_size", 8, "max_buffer_size", 64), model,
                limits().withMemoryBudget(budget));
        TestClient c = client(HONEST);
        float[] v = new float[floats];
        for (int i = 0; i < 130; i++) {
            java.util.Arrays.fill(v, 0.001f * (i % 7));
            MemorySegment img = Safetensors.encode(new TensorMap().put("w", Tensor.ofFloats(new long[] {floats}, v)),
                    Map.of(), Arena.ofAuto());
            assertTrue(img.byteSize() <= MAX_UPDATE);
            long examples = i < 2 ? 1000 : 1;
            long version = coordinator.version();
            PushAck ack = c.push(TestClient.header(java.util.UUID.randomUUID().toString(), version, img.byteSize()).setExamples(examples).build(), img,
                    1 << 16, false);
            assertFalse(ack.getDuplicate());
            assertTrue(coordinator.memoryCommitted() <= budget, "committed " + coordinator.memoryCommitted());
        }
        assertTrue(coordinator.version() >= 2, "publishes went on: version " + coordinator.version());
        assertEquals(0, coordinator.metrics().refusedCount("busy"));
        assertEquals(0, inUseSettled(), "nothing held once the log wrote it");
    }

    @Test
    void aTokenHoldsAtMostKStreamsAndAWorkerAtMostItsOwnK() throws Exception {
        start(limits().withStreamsPer(3, 2).withPushDeadlines(Duration.ofSeconds(5), Duration.ofSeconds(5), 1 << 20));
        TestClient hostile = client(HOSTILE);
        List<RawPush> open = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            open.add(new RawPush(hostile));
        }
        assertFalse(open.stream().anyMatch(RawPush::done));
        StatusRuntimeException fourth = refusal(new RawPush(hostile));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, fourth.getStatus().getCode());
        assertTrue(fourth.getStatus().getDescription().contains("max_push_streams_per_token"));
        assertEquals("1000", fourth.getTrailers().get(Refusal.RETRY_PUSHBACK_MS));
        // Another token is not held back by this one.
        assertNotNull(client(HONEST).push(TestModels.delta(1, 0.01f), 0));
        open.getFirst().cancel();
        open.set(0, new RawPush(hostile));
        assertFalse(open.getFirst().done());
        assertEquals(1, coordinator.metrics().refusedCount("streams"));

        open.get(0).header(RawPush.header("w", MAX_UPDATE));
        open.get(1).header(RawPush.header("w", MAX_UPDATE));
        assertFalse(open.get(1).done());
        StatusRuntimeException third = refusal(open.get(2).header(RawPush.header("w", MAX_UPDATE)));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, third.getStatus().getCode());
        assertTrue(third.getStatus().getDescription().contains("max_push_streams_per_worker"));
    }

    @Test
    void registrationsMayNotCarryMegabytesOfLabels() throws Exception {
        start(limits().withMaxWorkers(3));
        TestClient c = client(HONEST);
        String mb = "x".repeat(1 << 20);
        assertRegistrationRefused(c, "name of 1048576 bytes > 256", RegisterRequest.newBuilder().setName(mb).build());
        assertRegistrationRefused(c, "capabilities.device_kind of 65 bytes > 64", RegisterRequest.newBuilder()
                .setCapabilities(Capabilities.newBuilder().setDeviceKind("x".repeat(65))).build());
        Capabilities.Builder codecs = Capabilities.newBuilder();
        for (int i = 0; i < 17; i++) {
            codecs.addCodecs("c" + i);
        }
        assertRegistrationRefused(c, "capabilities.codecs: 17 entries > 16", RegisterRequest.newBuilder().setCapabilities(codecs).build());
        Capabilities.Builder labels = Capabilities.newBuilder();
        for (int i = 0; i < 33; i++) {
            labels.putLabels("k" + i, "v");
        }
        assertRegistrationRefused(c, "capabilities.labels: 33 entries > 32", RegisterRequest.newBuilder().setCapabilities(labels).build());
        assertRegistrationRefused(c, "capabilities.labels[k] of 1048576 bytes > 1024", RegisterRequest.newBuilder()
                .setCapabilities(Capabilities.newBuilder().putLabels("k", mb)).build());
        assertRegistrationRefused(c, "capabilities.steps_per_second NaN", RegisterRequest.newBuilder()
                .setCapabilities(Capabilities.newBuilder().setStepsPerSecond(Double.NaN)).build());
        assertEquals(6, coordinator.metrics().registrationsRefused("registration"));

        RegisterRequest atTheBounds = RegisterRequest.newBuilder().setName("n".repeat(256))
                .setCapabilities(Capabilities.newBuilder().setDeviceKind("d".repeat(64)).putLabels("k", "v".repeat(1024)))
                .build();
        for (int i = 0; i < 3; i++) {
            assertFalse(c.blocking.register(atTheBounds).getWorkerId().isEmpty());
        }
        StatusRuntimeException full = assertThrows(StatusRuntimeException.class,
                () -> c.blocking.register(atTheBounds));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, full.getStatus().getCode());
        assertTrue(full.getStatus().getDescription().contains("max_workers"), full.getStatus().getDescription());
        assertEquals(3, coordinator.liveWorkers());
    }

    private void assertRegistrationRefused(TestClient c, String message, RegisterRequest req) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> c.blocking.register(req));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith(message), e.getStatus().getDescription());
    }

    private static StatusRuntimeException refusal(RawPush p) throws InterruptedException, TimeoutException {
        Status st = p.status(WAIT);
        assertFalse(st.isOk());
        return (StatusRuntimeException) p.error();
    }
}
