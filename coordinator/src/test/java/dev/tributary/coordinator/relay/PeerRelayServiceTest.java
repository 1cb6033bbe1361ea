package dev.tributary.coordinator.relay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.ServiceLimits;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.OuterState;
import dev.tributary.protocol.OuterStateHeader;
import dev.tributary.protocol.OuterStatePart;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerStateHeader;
import dev.tributary.protocol.PeerStatePart;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Executor;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay's service as a client on its port sees it, the hostile one included: states of any size in
 * chunks, refusals that name the rule and are counted, nothing kept of a refused state, held states that
 * survive a restart (a damaged one set aside, not served) and go when their worker's lease lapses.
 */
class PeerRelayServiceTest {
    static final String TOKEN = "relay-test-token";
    static final Duration LEASE = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    final Map<String, String> members = new ConcurrentHashMap<>(Map.of("a", "wa", "b", "wb", "c", "wc"));
    final List<String> warnings = new ArrayList<>();
    final CoordinatorMetrics metrics = new CoordinatorMetrics();
    final List<Server> servers = new ArrayList<>();
    final List<ExecutorService> pools = new ArrayList<>();
    ManagedChannel channel;
    PeerRelayService service;
    TensorMap model = model(4);

    static TensorMap model(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {n}, v)).put("b", Tensor.ofFloats(new long[] {1}, 0f));
    }

    static TensorMap filled(TensorMap like, float x) {
        TensorMap m = new TensorMap();
        for (String n : like.names()) {
            float[] v = new float[(int) like.tensor(n).numel()];
            Arrays.fill(v, x);
            m.put(n, Tensor.ofFloats(like.tensor(n).shape(), v));
        }
        return m;
    }

    void start() throws IOException {
        start(Map.of("seed", 3));
    }

    void start(Map<String, Object> settings) throws IOException {
        NoLoCoRelay relay = NoLoCoRelay.create(settings, model);
        service = PeerRelayService.open(dir, relay, members::get, ServiceLimits.DEFAULTS, LEASE, metrics, warnings::add);
        String name = InProcessServerBuilder.generateName();
        ExecutorService pool = Executors.newFixedThreadPool(2);
        pools.add(pool);
        servers.add(InProcessServerBuilder.forName(name).executor(pool)
                .addService(PeerRelayService.authenticated(service, Tokens.of(List.of(TOKEN)), () -> { })).build().start());
        channel = InProcessChannelBuilder.forName(name).build();
    }

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
        }
        servers.forEach(Server::shutdownNow);
        pools.forEach(ExecutorService::shutdownNow);
    }

    static final CallCredentials BEARER = new CallCredentials() {
        @Override
        public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
            Metadata m = new Metadata();
            m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
            applier.apply(m);
        }
    };

    /** What came back from one call: the answer header and the bytes that followed. */
    record Answer(PeerStateHeader header, byte[] bytes, int chunks) {}

    /** Sends {@code parts} as one ExchangeStream call; the status on a refusal. */
    Answer call(List<OuterStatePart> parts, boolean complete) throws Exception {
        try {
            return callAsync(parts, complete).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    /** {@link #call} without waiting for the answer. */
    CompletableFuture<Answer> callAsync(List<OuterStatePart> parts, boolean complete) {
        CompletableFuture<Answer> done = new CompletableFuture<>();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PeerStateHeader[] header = new PeerStateHeader[1];
        int[] chunks = new int[1];
        StreamObserver<OuterStatePart> up = PeerRelayGrpc.newStub(channel).withCallCredentials(BEARER)
                .exchangeStream(new StreamObserver<>() {
                    @Override
                    public void onNext(PeerStatePart p) {
                        if (p.hasHeader()) {
                            header[0] = p.getHeader();
                        } else {
                            assertEquals(bytes.size(), p.getChunk().getOffset());
                            CRC32C crc = new CRC32C();
                            crc.update(p.getChunk().getData().asReadOnlyByteBuffer());
                            assertEquals((int) crc.getValue(), p.getChunk().getCrc32C());
                            bytes.writeBytes(p.getChunk().getData().toByteArray());
                            chunks[0]++;
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        done.complete(new Answer(header[0], bytes.toByteArray(), chunks[0]));
                    }
                });
        parts.forEach(up::onNext);
        if (complete) {
            up.onCompleted();
        }
        return done;
    }

    static byte[] image(TensorMap m) {
        return Safetensors.encode(m, Map.of(), Arena.ofAuto()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    static byte[] sha(byte[] b) {
        return dev.tributary.store.ModelImage.sha256(MemorySegment.ofArray(b));
    }

    static OuterStatePart header(String id, long round, byte[] outer, byte[] gradient) {
        return OuterStatePart.newBuilder().setHeader(OuterStateHeader.newBuilder().setWorkerId(id).setRound(round)
                .setOuterBytes(outer.length).setOuterGradientBytes(gradient.length)
                .setOuterSha256(ByteString.copyFrom(sha(outer))).setOuterGradientSha256(ByteString.copyFrom(sha(gradient)))).build();
    }

    static List<OuterStatePart> chunks(byte[] all, int size) {
        List<OuterStatePart> out = new ArrayList<>();
        for (int at = 0; at < all.length; at += size) {
            byte[] d = Arrays.copyOfRange(all, at, Math.min(all.length, at + size));
            CRC32C crc = new CRC32C();
            crc.update(d);
            out.add(OuterStatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at).setData(ByteString.copyFrom(d))
                    .setCrc32C((int) crc.getValue())).build());
        }
        return out;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    Answer exchange(String id, long round, TensorMap outer, TensorMap gradient) throws Exception {
        try {
            return exchangeAsync(id, round, outer, gradient).get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            throw (Exception) e.getCause();
        }
    }

    CompletableFuture<Answer> exchangeAsync(String id, long round, TensorMap outer, TensorMap gradient) {
        byte[] o = image(outer);
        byte[] g = image(gradient);
        List<OuterStatePart> parts = new ArrayList<>(List.of(header(id, round, o, g)));
        parts.addAll(chunks(concat(o, g), 2 << 20));
        return callAsync(parts, true);
    }

    @Test
    void underPairsMatchingBothMembersGetEachOthersStateOfTheSameRound() throws Exception {
        start(Map.of("seed", 3, "matching", "pairs", "match_wait_seconds", 5));
        // a alone: nobody else holds a state, so it is answered at once, unpaired.
        assertFalse(exchange("a", 0, filled(model, 1f), filled(model, 0.1f)).header().getPaired());
        // b waits for a, the other worker holding a state ...
        CompletableFuture<Answer> b = exchangeAsync("b", 0, filled(model, 2f), filled(model, 0.2f));
        waitUntil(() -> service.waiting() == 1);
        Thread.sleep(200);
        assertFalse(b.isDone(), "b waits for its partner");
        assertTrue(metrics.scrape().contains("tributary_relay_waiting 1.0"), metrics.scrape());
        // ... and a's next exchange matches the two: each gets the other's state of this round.
        Answer a = exchange("a", 1, filled(model, 3f), filled(model, 0.3f));
        Answer bAnswer = b.get(30, TimeUnit.SECONDS);
        assertTrue(a.header().getPaired() && bAnswer.header().getPaired());
        assertEquals("b", a.header().getPeerId());
        assertArrayEquals(concat(image(filled(model, 2f)), image(filled(model, 0.2f))), a.bytes());
        assertEquals("a", bAnswer.header().getPeerId());
        assertEquals(1, bAnswer.header().getPeerRound(), "a's state of this round, not its first");
        assertArrayEquals(concat(image(filled(model, 3f)), image(filled(model, 0.3f))), bAnswer.bytes());
        assertEquals(0, service.waiting());
        // c joins and waits for a and b; when its wait runs out it is answered with one of theirs.
        CompletableFuture<Answer> c = exchangeAsync("c", 0, filled(model, 4f), filled(model, 0.4f));
        waitUntil(() -> service.waiting() == 1);
        service.sweep(System.currentTimeMillis() + 1000);
        assertFalse(c.isDone(), "its 5 s wait has not run out");
        service.sweep(System.currentTimeMillis() + 6000);
        Answer cAnswer = c.get(30, TimeUnit.SECONDS);
        assertTrue(cAnswer.header().getPaired());
        assertTrue(List.of("a", "b").contains(cAnswer.header().getPeerId()), cAnswer.header().getPeerId());
        assertEquals(4, service.exchanges());
        String scrape = metrics.scrape();
        assertTrue(scrape.contains("tributary_relay_waiting 0.0"), scrape);
        assertTrue(scrape.contains("tributary_relay_exchanges_total 4.0"), scrape);
        assertTrue(scrape.contains("tributary_relay_paired_total 3.0"), scrape);
    }

    static void waitUntil(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("condition not met within 30 s");
            }
            Thread.sleep(10);
        }
    }

    static Status status(Exception e) {
        return Status.fromThrowable(e);
    }

    @Test
    void aStateBeyondOneMessageTravelsInChunksBitForBit() throws Exception {
        model = model(2_500_000); // 10 MB per image: more than the coordinator's 8 MiB message limit
        start();
        TensorMap outer = filled(model, 0.25f);
        TensorMap gradient = filled(model, -0.5f);
        assertFalse(exchange("a", 0, outer, gradient).header().getPaired());
        Answer b = exchange("b", 0, filled(model, 2f), filled(model, 3f));
        assertTrue(b.header().getPaired());
        assertEquals("a", b.header().getPeerId());
        assertEquals("wa", b.header().getPeerName());
        assertArrayEquals(concat(image(outer), image(gradient)), b.bytes(), "a's state, exactly as sent");
        assertTrue(b.chunks() >= 10, "in chunks of a few MiB: " + b.chunks());
        assertEquals(2, service.exchanges());
        // The deprecated unary call cannot carry it, and says what to use.
        byte[] o = image(outer);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> PeerRelayGrpc.newBlockingStub(channel)
                .withCallCredentials(BEARER).exchange(OuterState.newBuilder().setWorkerId("c").setOuter(ByteString.copyFrom(o))
                        .setOuterGradient(ByteString.copyFrom(o)).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().endsWith("use ExchangeStream"), e.getStatus().getDescription());
    }

    @Test
    void hostileStreamsAreRefusedNamingTheRuleCountedAndNotKept() throws Exception {
        start();
        byte[] o = image(filled(model, 1f));
        byte[] g = image(filled(model, 0.5f));
        byte[] both = concat(o, g);
        // Sizes beyond the model's, refused from the header before any file or buffer is made.
        OuterStatePart huge = OuterStatePart.newBuilder().setHeader(header("a", 0, o, g).getHeader().toBuilder()
                .setOuterBytes(1L << 40)).build();
        Status s = status(assertThrows(Exception.class, () -> call(List.of(huge), false)));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode());
        assertEquals("outer_bytes 1099511627776: must be 1 to " + service.maxStateBytes()
                + " (the model's safetensors image and 65536 bytes of header)", s.getDescription());
        // A chunk before the header.
        s = status(assertThrows(Exception.class, () -> call(chunks(both, 64), true)));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("a chunk before the header", s.getDescription());
        // A damaged chunk.
        List<OuterStatePart> bad = new ArrayList<>(List.of(header("a", 0, o, g)));
        bad.addAll(chunks(both, 64));
        bad.set(2, bad.get(2).toBuilder().setChunk(bad.get(2).getChunk().toBuilder().setCrc32C(12345)).build());
        s = status(assertThrows(Exception.class, () -> call(bad, true)));
        assertEquals(Status.Code.DATA_LOSS, s.getCode());
        assertEquals("chunk at offset 64: CRC32C mismatch", s.getDescription());
        // Bytes that are not what the header's SHA-256 says.
        List<OuterStatePart> swapped = new ArrayList<>(List.of(header("a", 0, o, g).toBuilder()
                .setHeader(header("a", 0, o, g).getHeader().toBuilder().setOuterSha256(ByteString.copyFrom(sha(g)))).build()));
        swapped.addAll(chunks(both, 1 << 20));
        s = status(assertThrows(Exception.class, () -> call(swapped, true)));
        assertEquals(Status.Code.DATA_LOSS, s.getCode());
        assertTrue(s.getDescription().startsWith("outer: SHA-256"), s.getDescription());
        // A stream that ends short.
        List<OuterStatePart> shorter = new ArrayList<>(List.of(header("a", 0, o, g)));
        shorter.addAll(chunks(o, 1 << 20));
        s = status(assertThrows(Exception.class, () -> call(shorter, true)));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("received " + o.length + " of outer_bytes + outer_gradient_bytes " + both.length, s.getDescription());
        // A non-finite value and a wrong shape: named by tensor.
        TensorMap nan = filled(model, 1f);
        nan.tensor("w").setFloat(2, Float.NaN);
        s = status(assertThrows(Exception.class, () -> exchange("a", 0, nan, filled(model, 0f))));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertEquals("outer: tensor w has a non-finite value NaN", s.getDescription());
        s = status(assertThrows(Exception.class, () -> exchange("a", 0, filled(model, 0f), model(3))));
        assertEquals("outer_gradient: tensor w: state shape [3] != model shape [4]", s.getDescription());
        // Not safetensors at all.
        byte[] junk = "not safetensors, not at all".getBytes();
        List<OuterStatePart> notSt = new ArrayList<>(List.of(header("a", 0, junk, g)));
        notSt.addAll(chunks(concat(junk, g), 1 << 20));
        s = status(assertThrows(Exception.class, () -> call(notSt, true)));
        assertEquals(Status.Code.INVALID_ARGUMENT, s.getCode());
        assertTrue(s.getDescription().startsWith("outer"), s.getDescription());
        // An id the coordinator did not register.
        s = status(assertThrows(Exception.class, () -> exchange("mallory", 0, filled(model, 0f), filled(model, 0f))));
        assertEquals(Status.Code.NOT_FOUND, s.getCode());
        assertEquals("worker mallory is not registered (or its lease ran out): register again", s.getDescription());

        assertEquals(1, service.refused("size"));
        assertEquals(1, service.refused("crc"));
        assertEquals(1, service.refused("sha256"));
        assertEquals(2, service.refused("state"));
        assertEquals(1, service.refused("not_registered"));
        assertTrue(metrics.scrape().contains("tributary_relay_refused_total{reason=\"crc\"} 1.0"), metrics.scrape());
        // Nothing refused was kept: no held state, no file, and the next worker finds no peer.
        assertEquals(0, service.held());
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList());
        }
        assertFalse(exchange("b", 0, filled(model, 0f), filled(model, 0f)).header().getPaired());
    }

    @Test
    void oneExchangeInFlightPerWorkerAndAStalledStreamIsCut() throws Exception {
        start();
        byte[] o = image(filled(model, 1f));
        CompletableFuture<Answer> stalled = CompletableFuture.supplyAsync(() -> {
            try {
                return call(List.of(header("a", 0, o, o)), false);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (partFiles() == 0) {
            assertTrue(System.nanoTime() < until, "the first stream never got its header through");
            Thread.sleep(10);
        }
        StatusRuntimeException busy = (StatusRuntimeException) assertThrows(Exception.class,
                () -> exchange("a", 0, filled(model, 1f), filled(model, 1f)));
        assertEquals(Status.Code.UNAVAILABLE, busy.getStatus().getCode());
        assertEquals("500", busy.getTrailers().get(Refusal.RETRY_PUSHBACK_MS));
        service.sweep(System.currentTimeMillis() + ServiceLimits.DEFAULTS.pushIdleTimeout().toMillis() + 1000);
        ExecutionException cut = assertThrows(ExecutionException.class, () -> stalled.get(10, TimeUnit.SECONDS));
        Status s = Status.fromThrowable(cut.getCause());
        assertEquals(Status.Code.DEADLINE_EXCEEDED, s.getCode());
        assertTrue(s.getDescription().startsWith("no message for "), s.getDescription());
        assertEquals(0, partFiles(), "the part file goes with the stream");
        assertFalse(exchange("a", 0, filled(model, 1f), filled(model, 1f)).header().getPaired(), "the slot is free again");
    }

    long partFiles() throws IOException {
        try (var files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(HeldStates.PART)).count();
        }
    }

    @Test
    void aRestartHoldsWhatWasAcknowledgedAndSetsADamagedStateAside() throws Exception {
        start();
        exchange("a", 0, filled(model, 1f), filled(model, 2f));
        Answer b = exchange("b", 4, filled(model, 3f), filled(model, 4f));
        assertEquals("a", b.header().getPeerId());
        Files.write(dir.resolve("torn" + HeldStates.PART), new byte[] {1, 2, 3});
        stop();
        start(); // a restarted coordinator on the same folder
        assertEquals(2, service.held());
        assertEquals(2, service.exchanges());
        assertFalse(Files.exists(dir.resolve("torn" + HeldStates.PART)), "a part file was never answered: removed");
        Answer c = exchange("c", 0, filled(model, 5f), filled(model, 6f));
        assertTrue(c.header().getPaired());
        assertEquals(3, c.header().getExchange());
        String peer = c.header().getPeerId();
        TensorMap peerOuter = filled(model, peer.equals("a") ? 1f : 3f);
        TensorMap peerGradient = filled(model, peer.equals("a") ? 2f : 4f);
        assertArrayEquals(concat(image(peerOuter), image(peerGradient)), c.bytes(), "the held state as acknowledged");
        assertEquals(peer.equals("a") ? 0 : 4, c.header().getPeerRound());

        // Flip one byte of b's held φ: the next start reports it and never serves it.
        Path bFile = dir.resolve(HeldStates.key("b") + HeldStates.SUFFIX);
        byte[] bytes = Files.readAllBytes(bFile);
        bytes[100] ^= 1;
        Files.write(bFile, bytes);
        stop();
        start();
        assertEquals(2, service.held());
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains(bFile.toString()) && warnings.get(0).contains("SHA-256 mismatch"), warnings.get(0));
        assertTrue(Files.exists(bFile.resolveSibling(bFile.getFileName() + ".damaged")));
    }

    @Test
    void aHeldStateGoesWhenItsWorkersLeaseLapses() throws Exception {
        start();
        exchange("a", 0, filled(model, 1f), filled(model, 2f));
        exchange("b", 0, filled(model, 1f), filled(model, 2f));
        members.remove("b");
        service.sweep(System.currentTimeMillis());
        assertEquals(1, service.held());
        assertFalse(Files.exists(dir.resolve(HeldStates.key("b") + HeldStates.SUFFIX)));
        // After a restart the registry is empty: restored states wait one lease for their workers.
        members.clear();
        stop();
        start();
        assertEquals(1, service.held());
        service.sweep(System.currentTimeMillis());
        assertEquals(1, service.held(), "within the grace of one lease");
        service.sweep(System.currentTimeMillis() + LEASE.toMillis() + 1000);
        assertEquals(0, service.held());
        // A worker that registers again under its name replaces its old state.
        members.put("a2", "wa");
        members.put("c", "wc");
        stop();
        start();
        assertEquals(0, service.held());
        assertEquals(2, service.exchanges(), "the count does not go back with the states that carried it");
        assertEquals(3, exchange("c", 0, filled(model, 1f), filled(model, 2f)).header().getExchange());
        members.put("a", "wa");
        exchange("a", 1, filled(model, 1f), filled(model, 2f));
        members.remove("a"); // a's lease lapses; it registers again as a2
        Answer again = exchange("a2", 2, filled(model, 1f), filled(model, 2f));
        assertEquals("c", again.header().getPeerId(), "never paired with its own old state");
        assertEquals(2, service.held(), "a's state was replaced by a2's");
    }
}
