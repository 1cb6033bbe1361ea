package dev.tributary.coordinator.strategy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Crash recovery: a strategy restored from (model, version, exportState()) at any publish and fed the
 * updates accepted after it makes the same decisions and bit-identical models; and runs are deterministic.
 */
class StrategyReplayTest {

    record Checkpoint(int acceptedSoFar, TensorMap model, long version, TensorMap state) {}

    static Stream<Arguments> configs() {
        return Stream.of(
                Arguments.of("fedavg", Map.of("min_workers", 3)),
                Arguments.of("fedavg", Map.of("min_workers", 2, "optimizer", "adam")),
                Arguments.of("fedavg", Map.of("min_workers", 2, "optimizer", Map.of("name", "momentum", "momentum", 0.9))),
                Arguments.of("fedbuff", Map.of("buffer_size", 3, "optimizer", "yogi", "max_staleness", 2)),
                Arguments.of("fedbuff", Map.of("buffer_size", 2, "optimizer", "adagrad", "aggregator", "sum")),
                Arguments.of("fedbuff", Map.of()),
                Arguments.of("fedbuff", Map.of("initial_buffer_size", 3, "buffer_fraction", 1, "optimizer", "adam")),
                Arguments.of("fedbuff", Map.of("participation_weights", "fedau", "participation_cap", 2)),
                Arguments.of("fedasync", Map.of()),
                Arguments.of("fedasync", Map.of("max_staleness", 3, "staleness", "polynomial")),
                Arguments.of("fedasync", Map.of("mixing", "delta", "staleness", "hinge")),
                // A floor this high scales most updates: a replay that lost the examples sums would differ.
                Arguments.of("fedasync", Map.of("examples_floor", 0.9)),
                // History of one version under the worker clock: stale bases past it are mixed as deltas.
                Arguments.of("fedasync", Map.of("history", 1)),
                Arguments.of("diloco", Map.of("workers", 2)),
                Arguments.of("diloco", Map.of("workers", 2, "fragments", 2, "optimizer", "adam")),
                Arguments.of("diloco", Map.of("workers", 2, "fragments", 2, "fragment_split", "tensors")));
    }

    private static List<Update> updates(long seed, int count) {
        Random rnd = new Random(seed);
        List<Update> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            // Three workers, one pushing four times as often as another: the worker clock (fedasync's default)
            // counts fewer than the versions, and participation weights differ between them.
            out.add(new Update("u" + i, 0, 1 + rnd.nextInt(5), 10, Fixtures.random(rnd, 0.1),
                    Map.of("loss", rnd.nextDouble()), "w" + (i % 7 < 4 ? 0 : i % 7 < 6 ? 1 : 2)));
        }
        return out;
    }

    /**
     * The update with its base version drawn relative to the strategy's current version; under Streaming
     * DiLoCo, with only the values of the fragment due (cut inside tensors by the default split).
     */
    private static Update based(Update u, Strategy s, Random rnd) {
        long base = rnd.nextInt(10) < 7 ? s.version() : Math.max(0, s.version() - 1 - rnd.nextInt(3));
        TensorMap delta = u.delta();
        if (s.innerLoop() != null && s.innerLoop().fragments().size() > 1) {
            List<List<Fragments.Slice>> f = s.innerLoop().fragments();
            delta = Fragments.cut(delta, f.get((int) Math.floorMod(s.version(), (long) f.size())));
        }
        return new Update(u.id(), base, u.examples(), u.localSteps(), delta, u.metrics(), u.worker());
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("configs")
    void restoringAnyPublishAndReplayingGivesTheSameRun(String name, Map<String, Object> cfg) {
        TensorMap initial = Fixtures.random(new Random(1), 1.0);
        Strategy a = Strategies.create(name, cfg, initial);
        Random rnd = new Random(2);
        List<Update> accepted = new ArrayList<>();
        List<Decision> decisions = new ArrayList<>();
        List<Checkpoint> checkpoints = new ArrayList<>();
        for (Update raw : updates(3, 60)) {
            Update u = based(raw, a, rnd);
            Decision d = a.onUpdate(u);
            if (d instanceof Refused) {
                continue;
            }
            accepted.add(u);
            decisions.add(d);
            if (d instanceof Published) {
                checkpoints.add(new Checkpoint(accepted.size(), a.model(), a.version(), a.exportState()));
            }
        }
        assertTrue(checkpoints.size() >= 4, "only " + checkpoints.size() + " publishes");
        for (Checkpoint c : checkpoints.subList(0, checkpoints.size() - 1)) {
            Strategy b = Strategies.create(name, cfg, initial);
            b.restoreState(c.model(), c.version(), c.state());
            for (int i = c.acceptedSoFar(); i < accepted.size(); i++) {
                assertEquals(decisions.get(i), b.onUpdate(accepted.get(i)), "replay from version " + c.version());
            }
            assertEquals(a.version(), b.version());
            assertTrue(Fixtures.identical(a.model(), b.model()), "model differs after replay from version " + c.version());
            assertSameState(a.exportState(), b.exportState());
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("configs")
    void runsAreDeterministic(String name, Map<String, Object> cfg) {
        TensorMap initial = Fixtures.random(new Random(5), 1.0);
        Strategy a = Strategies.create(name, cfg, initial);
        Strategy b = Strategies.create(name, cfg, initial);
        Random ra = new Random(6);
        Random rb = new Random(6);
        for (Update u : updates(7, 40)) {
            assertEquals(a.onUpdate(based(u, a, ra)), b.onUpdate(based(u, b, rb)));
        }
        assertTrue(a.version() > 0);
        assertTrue(Fixtures.identical(a.model(), b.model()));
        assertSameState(a.exportState(), b.exportState());
    }

    @Test
    void publishedModelsAreNeverWrittenAgain() {
        Strategy s = Strategies.create("fedasync", Map.of(), Fixtures.scalar(1));
        TensorMap v0 = s.model();
        s.onUpdate(Fixtures.update("a", 0, 1, Fixtures.scalar(1)));
        TensorMap v1 = s.model();
        s.onUpdate(Fixtures.update("b", 1, 1, Fixtures.scalar(1)));
        assertEquals(1, Fixtures.value(v0));
        assertEquals(1.9, Fixtures.value(v1), 1e-6);
        // The initial model is copied: changing the caller's map does not reach the strategy.
        TensorMap mine = Fixtures.scalar(5);
        Strategy t = Strategies.create("fedavg", Map.of(), mine);
        mine.tensor("w").setFloat(0, 6);
        assertEquals(5, Fixtures.value(t.model()));
    }

    @Test
    void restoreRefusesForeignStatesAndModels() {
        Strategy fedavg = Strategies.create("fedavg", Map.of(), Fixtures.scalar(0));
        TensorMap buffState = Strategies.create("fedbuff", Map.of(), Fixtures.scalar(0)).exportState();
        assertEquals("state of strategy \"fedbuff\" cannot restore strategy fedavg", assertThrows(
                IllegalArgumentException.class, () -> fedavg.restoreState(Fixtures.scalar(0), 3, buffState)).getMessage());
        TensorMap own = fedavg.exportState();
        TensorMap wider = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 0, 0));
        assertEquals("restored model: tensor w shape [2] != [1]", assertThrows(IllegalArgumentException.class,
                () -> fedavg.restoreState(wider, 3, own)).getMessage());
        Strategy adam = Strategies.create("fedavg", Map.of("optimizer", "adam"), Fixtures.scalar(0));
        assertEquals("optimizer state of \"sgd\" cannot restore optimizer adam", assertThrows(
                IllegalArgumentException.class, () -> adam.restoreState(Fixtures.scalar(0), 3, own)).getMessage());
        fedavg.restoreState(Fixtures.scalar(2), 3, own);
        assertEquals(3, fedavg.version());
        assertEquals(2, Fixtures.value(fedavg.model()));
    }

    private static void assertSameState(TensorMap x, TensorMap y) {
        assertEquals(x.metadata(), y.metadata());
        assertTrue(Fixtures.identical(x, y), "exported states differ");
    }
}
