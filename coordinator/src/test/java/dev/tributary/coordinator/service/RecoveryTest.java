package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.TestModels;
import dev.tributary.store.ModelImage;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.StateDirectory;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/** Restarts over the same state folder, without a clean stop in between, reproduce the same model. */
class RecoveryTest {
    @TempDir
    Path dir;

    final List<String> warnings = new ArrayList<>();

    static CoordinatorConfig fedbuff() {
        return CoordinatorConfig.defaults("fedbuff").withStrategyConfig(Map.of("buffer_size", 2)).withCheckpointEvery(2);
    }

    Assembly open(Path state) throws IOException {
        return Assembly.open(state, TestModels.model(1), fedbuff(), new CoordinatorMetrics(), warnings::add);
    }

    static String id(int i) {
        return UUID.nameUUIDFromBytes(new byte[] {(byte) i}).toString();
    }

    static Sequencer.Ack push(Assembly a, int i) {
        TensorMap delta = TestModels.delta(100 + i, 0.05f);
        MemorySegment img = Safetensors.encode(delta, Map.of(), Arena.ofAuto());
        return a.sequencer().submit("w", id(i), a.version(), 5 + i, 1, Map.of(), img,
                ModelImage.tensors(img, "delta"), () -> {}).join();
    }

    static String sha(Assembly a) {
        return a.sequencer().image().join().sha256Hex();
    }

    @Test
    void aRestartWithoutAStopReplaysTheLogAfterTheCheckpointExactlyOnce() throws IOException {
        Assembly reference = open(dir.resolve("reference"));
        for (int i = 0; i < 7; i++) {
            push(reference, i);
        }
        assertEquals(3, reference.version());

        Path state = dir.resolve("state");
        Assembly crashed = open(state);
        for (int i = 0; i < 5; i++) {
            push(crashed, i);
        }
        String shaAt2 = sha(crashed);
        // Abandoned without close(): as if killed.
        Assembly back = open(state);
        assertEquals(2, back.version());
        assertEquals(5, back.accepted());
        assertEquals(5, back.recoveredUpdates());
        assertEquals(shaAt2, sha(back));
        Sequencer.Ack dup = push(back, 4);
        assertTrue(dup.duplicate());
        assertEquals(5, back.accepted());
        push(back, 5);
        push(back, 6);
        assertEquals(3, back.version());
        assertEquals(sha(reference), sha(back));
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6).stream().map(RecoveryTest::id).toList(), StateDirectory.acceptedUpdateIds(state));
        back.close();
        Checkpoints.Loaded last = new Checkpoints(state, 2).newestValid(warnings::add).orElseThrow();
        // Version 3 was published by the sixth update; the seventh waits in the buffer, replayed from the log.
        assertEquals(3, last.version());
        assertEquals(6, last.applied());
        assertTrue(last.logPosition() < Files.size(StateDirectory.log(state)));
        Assembly again = open(state);
        assertEquals(7, again.accepted());
        assertEquals(sha(reference), sha(again));
        again.close();
        reference.close();
        crashed.close();
    }

    /**
     * A buffer goes back once the log wrote it and the strategy is done with its delta: at the publish when the
     * strategy keeps deltas (median), at once when it folds them in (mean, sum). A released buffer is then
     * scribbled over, as the next push reusing it would: the models stay those of a run where nothing is.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mean", "sum", "median"})
    void aBufferGoesBackOnlyOnceTheStrategyIsDoneWithItsDeltaAndTheLogWroteIt(String aggregator) throws IOException {
        CoordinatorConfig config = CoordinatorConfig.defaults("fedbuff").withStrategyConfig(Map.of("buffer_size", 3,
                "aggregator", aggregator)).withCheckpointEvery(1);
        boolean keeps = aggregator.equals("median");
        Assembly a = Assembly.open(dir.resolve("s"), TestModels.model(1), config, new CoordinatorMetrics(), warnings::add);
        Assembly reference = Assembly.open(dir.resolve("r"), TestModels.model(1), config, new CoordinatorMetrics(),
                warnings::add);
        AtomicInteger released = new AtomicInteger();
        for (int i = 0; i < 7; i++) {
            TensorMap delta = TestModels.delta(i, 0.05f);
            MemorySegment img = Safetensors.encode(delta, Map.of(), Arena.ofShared());
            a.sequencer().submit("w", id(i), a.version(), 5 + i, 1, Map.of(), img, ModelImage.tensors(img, "delta"), () -> {
                img.fill((byte) 0x3f); // 0.75 in every float: what a reused buffer would hold
                released.incrementAndGet();
            }).join();
            MemorySegment copy = Safetensors.encode(delta, Map.of(), Arena.ofAuto());
            reference.sequencer().submit("w", id(i), reference.version(), 5 + i, 1, Map.of(), copy,
                    ModelImage.tensors(copy, "delta"), () -> {}).join();
            int expected = keeps ? (i + 1) / 3 * 3 : i + 1;
            for (int wait = 0; wait < 500 && released.get() < expected; wait++) {
                LockSupport.parkNanos(10_000_000);
            }
            assertEquals(expected, released.get(), "buffers back after update " + i);
            assertEquals(sha(reference), sha(a), "model after update " + i);
        }
        assertEquals(2, a.version());
        String live = sha(a);
        a.close();
        reference.close();
        Assembly again = Assembly.open(dir.resolve("s"), TestModels.model(1), config, new CoordinatorMetrics(), warnings::add);
        assertEquals(live, sha(again), "the log replays to the same model");
        again.close();
    }

    /**
     * Updates held when the configuration changes are read back from the log and carried over, whether the
     * change is taken up at this start or is a configuration record in the middle of the log at a later one.
     * The result is bit for bit that of a run under the final configuration from the start.
     */
    @Test
    void heldUpdatesCarryOverAConfigurationChangeAtEveryStart() throws IOException {
        Path state = dir.resolve("s");
        CoordinatorConfig three = CoordinatorConfig.defaults("fedbuff").withStrategyConfig(Map.of("buffer_size", 3));
        CoordinatorConfig four = CoordinatorConfig.defaults("fedbuff").withStrategyConfig(Map.of("buffer_size", 4));
        Assembly a = Assembly.open(state, TestModels.model(1), three, new CoordinatorMetrics(), warnings::add);
        push(a, 0);
        push(a, 1);
        a.close();
        Assembly b = Assembly.open(state, TestModels.model(1), four, new CoordinatorMetrics(), warnings::add);
        assertTrue(warnings.stream().anyMatch(w -> w.contains("configuration changed")), warnings.toString());
        assertEquals(0, b.version());
        push(b, 2);
        assertEquals(0, b.version(), "two carried over and one more: three of four");
        b.close();
        Assembly c = Assembly.open(state, TestModels.model(1), four, new CoordinatorMetrics(), warnings::add);
        assertEquals(0, c.version(), "replays the change in the middle of the log, the three still held");
        push(c, 3);
        assertEquals(1, c.version(), "the fourth update publishes the four");
        Assembly straight = Assembly.open(dir.resolve("straight"), TestModels.model(1), four, new CoordinatorMetrics(),
                warnings::add);
        for (int i = 0; i < 4; i++) {
            push(straight, i);
        }
        assertEquals(1, straight.version());
        assertEquals(sha(straight), sha(c));
        c.close();
        straight.close();
    }

    @Test
    void aTornLastRecordIsDroppedWithAWarning() throws IOException {
        Path state = dir.resolve("state");
        Assembly a = open(state);
        push(a, 0);
        push(a, 1);
        push(a, 2);
        long whole = Files.size(StateDirectory.log(state));
        Files.write(StateDirectory.log(state), new byte[] {0x54, 0x52, 0x42, 0x31, 9, 9, 9}, StandardOpenOption.APPEND);
        Assembly b = open(state);
        assertEquals(3, b.accepted());
        assertEquals(7, b.droppedTornBytes());
        assertEquals(whole, Files.size(StateDirectory.log(state)));
        assertTrue(warnings.stream().anyMatch(w -> w.contains("torn last record of 7 bytes")), warnings.toString());
        push(b, 3);
        assertEquals(4, StateDirectory.acceptedUpdateIds(state).size());
        b.close();
        a.close();
    }

    @Test
    void aStateFromAnotherStrategyIsNotContinued() throws IOException {
        Path state = dir.resolve("state");
        Assembly a = open(state);
        push(a, 0);
        push(a, 1);
        a.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Assembly.open(state, TestModels.model(1),
                CoordinatorConfig.defaults("fedasync"), new CoordinatorMetrics(), warnings::add));
        assertTrue(e.getMessage().contains("holds a fedbuff run"), e.getMessage());
    }

    @Test
    void anUpdateTheStrategyRefusesIsNeitherLoggedNorCounted() throws IOException {
        Assembly a = Assembly.open(dir.resolve("s"), TestModels.model(1),
                CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("max_staleness", 0)), new CoordinatorMetrics(),
                warnings::add);
        push(a, 0);
        TensorMap delta = TestModels.delta(1, 0.05f);
        MemorySegment img = Safetensors.encode(delta, Map.of(), Arena.ofAuto());
        AtomicBoolean released = new AtomicBoolean();
        CompletionException e = assertThrows(CompletionException.class, () -> a.sequencer().submit("w", id(1), 0, 1, 1,
                Map.of(), img, ModelImage.tensors(img, "delta"), () -> released.set(true)).join());
        assertTrue(released.get(), "a refused update's buffer goes back at once");
        assertTrue(e.getCause().getMessage().contains("staleness 1 > max 0"), e.getCause().getMessage());
        assertEquals(1, a.accepted());
        assertEquals(1, StateDirectory.acceptedUpdateIds(dir.resolve("s")).size());
        assertEquals(1, a.version());
        assertEquals(1, a.sequencer().image().join().version());
        a.close();
    }

    static Sequencer.Ack pushAs(Assembly a, String worker, int i, long base) {
        TensorMap delta = TestModels.delta(100 + i, 0.05f);
        MemorySegment img = Safetensors.encode(delta, Map.of(), Arena.ofAuto());
        return a.sequencer().submit(worker, id(i), base, 5 + i, 1, Map.of(), img, ModelImage.tensors(img, "delta"), () -> {})
                .join();
    }

    @Test
    void fedAsyncCountsStalenessByTheWorkerTheLogRecordsAndAReplayCountsTheSame() throws IOException {
        Path state = dir.resolve("s");
        // The worker clock (the default with alpha_scale auto): at most one other worker merged since the base.
        CoordinatorConfig c = CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("max_staleness", 1))
                .withCheckpointEvery(2);
        Assembly a = Assembly.open(state, TestModels.model(1), c, new CoordinatorMetrics(), warnings::add);
        for (int i = 0; i < 4; i++) {
            pushAs(a, "fast", i, a.version());
        }
        // Four versions stale, but all four from one worker: admitted.
        assertEquals(4, pushAs(a, "slow", 4, 0).staleness());
        assertEquals(5, a.version());
        String at5 = sha(a);
        // Abandoned without close(): as if killed. The replay rebuilds the clock from the log's worker ids.
        Assembly back = Assembly.open(state, TestModels.model(1), c, new CoordinatorMetrics(), warnings::add);
        assertEquals(5, back.version());
        assertEquals(at5, sha(back));
        CompletionException e = assertThrows(CompletionException.class, () -> pushAs(back, "third", 5, 0));
        assertTrue(e.getCause().getMessage().contains("staleness 2 (workers merged since base version 0) > max 1"),
                e.getCause().getMessage());
        // Slow pushes again; based on version 4, third's update then finds one worker after its base (slow, whose
        // replayed update and this one count once only if the replay knew it was slow's).
        pushAs(back, "slow", 6, 5);
        assertEquals(2, pushAs(back, "third", 7, 4).staleness());
        assertEquals(7, back.version());
        back.close();
    }
}
