package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.TestModels;
import dev.tributary.store.ModelImage;
import dev.tributary.store.LogCorruptException;
import dev.tributary.store.StateDirectory;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ways an acknowledged update used to be lost or applied twice, each reproduced: after the fix, every
 * acknowledged id is in the model exactly once, versions never go back, and a restart reproduces the model.
 */
class DurabilityTest {
    @TempDir
    Path dir;

    final List<String> warnings = new ArrayList<>();

    Assembly open(Path state, CoordinatorConfig config) throws IOException {
        return Assembly.open(state, TestModels.model(1), config, new CoordinatorMetrics(), warnings::add);
    }

    static String id(int i) {
        return UUID.nameUUIDFromBytes(new byte[] {(byte) i, 7}).toString();
    }

    static java.util.concurrent.CompletableFuture<Sequencer.Ack> submit(Assembly a, String worker, int i, long base,
            Map<String, Double> metrics, TensorMap delta) {
        MemorySegment img = Safetensors.encode(delta, Map.of(), Arena.ofAuto());
        return a.sequencer().submit(worker, id(i), base, 5, 1, metrics, img, ModelImage.tensors(img, "delta"), () -> { });
    }

    static Sequencer.Ack push(Assembly a, int i, long base) {
        return submit(a, "w", i, base, Map.of(), TestModels.delta(100 + i, 0.05f)).join();
    }

    static String sha(Assembly a) {
        return a.sequencer().image().join().sha256Hex();
    }

    static Refusal refusal(CompletionException e) {
        Throwable t = e;
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return (Refusal) t;
    }

    static void awaitVersion(Assembly a, long v) throws InterruptedException {
        for (int i = 0; i < 500 && a.version() < v; i++) {
            Thread.sleep(10);
        }
        assertEquals(v, a.version());
    }

    @Test
    void aRecordTheLogCannotHoldNeverReachesTheModel() throws IOException {
        Path state = dir.resolve("s");
        Assembly a = open(state, CoordinatorConfig.defaults("fedasync"));
        push(a, 0, 0);
        String before = sha(a);
        String huge = "x".repeat(70_000);
        // Straight to the sequencer, past the header checks: the log's own limits still hold.
        CompletionException byWorker = assertThrows(CompletionException.class,
                () -> submit(a, huge, 1, 1, Map.of(), TestModels.delta(1, 0.05f)).join());
        assertEquals(Status.Code.INVALID_ARGUMENT, refusal(byWorker).toStatus().getStatus().getCode());
        assertTrue(refusal(byWorker).getMessage().contains("70000 bytes"), refusal(byWorker).getMessage());
        assertThrows(CompletionException.class,
                () -> submit(a, "w", 2, 1, Map.of(huge, 1.0), TestModels.delta(2, 0.05f)).join());
        assertEquals(1, a.version());
        assertEquals(before, sha(a), "a refused record changed the model");
        push(a, 3, 1);
        assertEquals(2, a.version());
        String at2 = sha(a);
        Assembly back = open(state, CoordinatorConfig.defaults("fedasync"));
        assertEquals(2, back.version());
        assertEquals(at2, sha(back));
        assertEquals(List.of(id(0), id(3)), StateDirectory.acceptedUpdateIds(state));
        back.close();
        a.close();
    }

    @Test
    void headerStringsAndMetricsAreBoundedAndFinite() {
        for (Map.Entry<String, Map<String, Double>> bad : Map.of(
                "x".repeat(300), Map.<String, Double>of(),
                "w", Map.of("loss", Double.NaN),
                "v", Map.of("y".repeat(200), 1.0),
                "u", Map.of("", 1.0)).entrySet()) {
            Refusal r = assertThrows(Refusal.class,
                    () -> dev.tributary.coordinator.validation.UpdateValidator.checkStrings(bad.getKey(), bad.getValue()));
            assertEquals("malformed", r.reason());
        }
        dev.tributary.coordinator.validation.UpdateValidator.checkStrings("w".repeat(256), Map.of("m".repeat(128), 1.0));
    }

    @Test
    void aRoundClosedByItsDeadlineIsReplayedAfterACrash() throws Exception {
        Path state = dir.resolve("s");
        CoordinatorConfig fedavg = CoordinatorConfig.defaults("fedavg")
                .withStrategyConfig(Map.of("min_workers", 1, "workers", 3, "round_deadline_s", 1));
        Assembly a = open(state, fedavg);
        for (int round = 0; round < 5; round++) {
            push(a, round, round);
            a.tick(round * 10_000L);
            a.tick(round * 10_000L + 1_000);
            awaitVersion(a, round + 1);
        }
        String at5 = sha(a);
        // Abandoned without close(): as if killed, with no checkpoint of the last rounds.
        Assembly back = open(state, fedavg);
        assertEquals(5, back.version(), "versions never go back");
        assertEquals(at5, sha(back));
        Sequencer.Ack retry = push(back, 4, 4);
        assertTrue(retry.duplicate());
        assertEquals(5, retry.version());
        push(back, 5, 5);
        back.tick(100_000);
        back.tick(101_000);
        awaitVersion(back, 6);
        back.close();
        a.close();
    }

    @Test
    void finiteUpdatesThatWouldOverflowTheModelAreRefusedAndCounted() throws IOException {
        Assembly a = open(dir.resolve("s"), CoordinatorConfig.defaults("fedasync")
                .withStrategyConfig(Map.of("alpha", 1.0, "mixing", "delta")).withNormBound(0, CoordinatorConfig.NormPolicy.REFUSE));
        TensorMap big = TestModels.delta(1, 1f);
        for (Tensor t : big.asMap().values()) {
            for (long i = 0; i < t.numel(); i++) {
                t.setFloat(i, 3e38f);
            }
        }
        submit(a, "w", 0, 0, Map.of(), big).join();
        CompletionException e = assertThrows(CompletionException.class, () -> submit(a, "w", 1, 1, Map.of(), big).join());
        assertEquals("non_finite_model", refusal(e).reason());
        assertEquals(1, a.version());
        ModelImage img = a.sequencer().image().join();
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int k = 0; k < img.chunkCount(); k++) {
            bytes.writeBytes(img.chunk(k));
        }
        for (Tensor t : ModelImage.tensors(MemorySegment.ofArray(bytes.toByteArray()), "model").asMap().values()) {
            for (long i = 0; i < t.numel(); i++) {
                assertTrue(Float.isFinite(t.getFloat(i)));
            }
        }
        push(a, 2, 1);
        assertEquals(2, a.version(), "honest updates still go in");
        a.close();
        assertEquals(CoordinatorConfig.DEFAULT_MAX_DELTA_NORM, CoordinatorConfig.defaults("fedasync").maxDeltaNorm());
    }

    @Test
    void aRestartUnderAStricterConfigurationKeepsEveryAcceptedUpdate() throws IOException {
        Path state = dir.resolve("s");
        CoordinatorConfig loose = CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("max_staleness", 16));
        Assembly a = open(state, loose);
        for (int i = 0; i < 10; i++) {
            push(a, i, Math.max(0, i - 3)); // staleness up to 3
        }
        assertEquals(10, a.version());
        String at10 = sha(a);
        a.close();
        CoordinatorConfig strict = CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("max_staleness", 0));
        Assembly b = open(state, strict);
        assertEquals(10, b.version(), "replay applies the log as it was accepted");
        assertEquals(at10, sha(b));
        assertEquals(10, b.accepted());
        assertTrue(warnings.stream().anyMatch(w -> w.contains("configuration changed")), warnings.toString());
        CompletionException stale = assertThrows(CompletionException.class, () -> push(b, 20, 9));
        assertEquals("staleness", refusal(stale).reason());
        push(b, 21, 10);
        String at11 = sha(b);
        // Killed: the next start replays the first part under the loose configuration and the rest under the strict.
        Files.list(state).filter(p -> p.getFileName().toString().startsWith("checkpoint-")).forEach(p -> p.toFile().delete());
        Assembly c = open(state, strict);
        assertEquals(11, c.version());
        assertEquals(at11, sha(c));
        c.close();
        b.close();
    }

    @Test
    void aDamagedRecordBeforeTheCheckpointStopsTheStartAndNothingIsDeleted() throws IOException {
        Path state = dir.resolve("s");
        CoordinatorConfig c = CoordinatorConfig.defaults("fedasync").withCheckpointEvery(2);
        Assembly a = open(state, c);
        for (int i = 0; i < 8; i++) {
            push(a, i, i);
        }
        a.close();
        Path log = StateDirectory.log(state);
        byte[] bytes = Files.readAllBytes(log);
        bytes[bytes.length / 3] ^= 4;
        Files.write(log, bytes);
        LogCorruptException e = assertThrows(LogCorruptException.class, () -> open(state, c));
        assertTrue(e.getMessage().contains("updates.log") && e.getMessage().contains("offset"), e.getMessage());
        assertArrayEquals(bytes, Files.readAllBytes(log), "the log was changed");
        assertFalse(warnings.stream().anyMatch(w -> w.contains("torn")), warnings.toString());
    }
}
