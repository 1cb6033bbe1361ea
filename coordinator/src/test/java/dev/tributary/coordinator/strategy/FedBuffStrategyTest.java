package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorMap;
import java.util.Random;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FedBuffStrategyTest {

    /** Round 1 fresh; round 2 mixes a τ = 1 update (2 examples) with a fresh one (1 example). */
    private static Strategy twoRounds(Map<String, Object> cfg) {
        Strategy s = Strategies.create("fedbuff", cfg, scalar(0));
        s.onUpdate(update("u1", 0, 1, scalar(1)));
        s.onUpdate(update("u2", 0, 1, scalar(3)));
        assertEquals(2, value(s.model()), 1e-6);
        s.onUpdate(update("u3", 0, 2, scalar(4)));
        s.onUpdate(update("u4", 1, 1, scalar(-2)));
        return s;
    }

    @Test
    void buffersKUpdatesThenPublishes() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 3), scalar(0));
        assertEquals(new Buffered(1, 3), s.onUpdate(update("a", 0, 1, scalar(1))));
        assertEquals(new Buffered(2, 3), s.onUpdate(update("b", 0, 1, scalar(1))));
        assertEquals(new Refused("update b: already buffered", Refused.DUPLICATE), s.onUpdate(update("b", 0, 1, scalar(1))));
        assertEquals(new Buffered(2, 3), s.onTick(99));
        assertEquals(new Published(1, List.of("a", "b", "c"), Map.of()), s.onUpdate(update("c", 0, 1, scalar(1))));
        assertEquals(new Buffered(1, 3), s.onUpdate(update("d", 0, 1, scalar(1))));
    }

    @Test
    void weightsAreExamplesTimesPolynomialStaleness() {
        Strategy s = twoRounds(Map.of("buffer_size", 2));
        double w3 = 2 / Math.sqrt(2);
        double w4 = 1;
        assertEquals(2 + (w3 * 4 + w4 * -2) / (w3 + w4), value(s.model()), 1e-6);
    }

    @Test
    void sumAggregatorKeepsThePapersWeightedSum() {
        Strategy s = twoRounds(Map.of("buffer_size", 2, "aggregator", "sum", "weighting", "uniform",
                "optimizer", Map.of("name", "sgd", "lr", 0.5)));
        // Round 1: Σδ = 4, halved by the lr → 2; round 2: (4/√2 − 2)·0.5.
        assertEquals(2 + 0.5 * (4 / Math.sqrt(2) - 2), value(s.model()), 1e-6);
    }

    @Test
    void stalenessFunctionIsConfigurable() {
        Strategy s = twoRounds(Map.of("buffer_size", 2, "staleness", "constant", "weighting", "uniform"));
        assertEquals(2 + (4 + -2) / 2.0, value(s.model()), 1e-6);
    }

    @Test
    void maxStalenessRefusesAndCountsNothingIntoTheBuffer() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 1, "max_staleness", 1), scalar(0));
        for (int i = 0; i < 3; i++) {
            assertInstanceOf(Published.class, s.onUpdate(update("u" + i, s.version(), 1, scalar(1))));
        }
        assertEquals(new Refused("staleness 2 > max 1", Refused.STALENESS), s.onUpdate(update("old", 1, 1, scalar(1))));
        assertEquals(3, s.version());
        assertInstanceOf(Published.class, s.onUpdate(update("ok", 2, 1, scalar(1))));
    }

    /**
     * A buffer of updates with few examples steps as far as its examples are worth against the typical
     * update (r = Σn²/Σn), not a full step; buffers of typical updates are untouched.
     */
    @Test
    void theExamplesFloorScalesABufferOfTinyUpdatesAndLeavesTypicalOnesAlone() {
        // At most two updates held, so that two tiny ones publish (they would not fill a larger buffer).
        Map<String, Object> cfg = Map.of("initial_buffer_size", 2, "max_buffer_size", 2, "step_scale", "none",
                "examples_floor", 0.5);
        Strategy s = Strategies.create("fedbuff", cfg, scalar(0));
        Map<String, Object> noFloor = new java.util.HashMap<>(cfg);
        noFloor.put("examples_floor", 0);
        Strategy off = Strategies.create("fedbuff", noFloor, scalar(0));
        for (Strategy x : List.of(s, off)) {
            x.onUpdate(update("a", 0, 100, scalar(1)));
            x.onUpdate(update("b", 0, 100, scalar(1)));
        }
        assertEquals(1, value(s.model()), 1e-6, "two typical updates: the full mean");
        for (Strategy x : List.of(s, off)) {
            x.onUpdate(update("c", 1, 1, scalar(1)));
            x.onUpdate(update("d", 1, 1, scalar(1)));
        }
        double r = (100.0 * 100 * 2 + 2) / 202;
        assertEquals(1 + 1 / (0.5 * r), value(s.model()), 1e-6, "two updates of one example each: 1/(φ·r) of a step");
        // Without the floor (K is 1 after the first publish here) each fills a buffer alone and takes a full step.
        assertEquals(3, value(off.model()), 1e-6, "without the floor they take full steps");
        // One tiny and one typical update: m = Σw / Σ(w/n) = 101 / 2 > φ·r, so the plain weighted mean.
        double before = value(s.model());
        s.onUpdate(update("e", 2, 1, scalar(1)));
        s.onUpdate(update("f", 2, 100, scalar(-1)));
        assertEquals(before + (1 - 100) / 101.0, value(s.model()), 1e-6);
    }

    @Test
    void theExamplesFloorIsChecked() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Strategies.create("fedbuff", Map.of("examples_floor", 2), scalar(0)));
        assertEquals("fedbuff.examples_floor: must be in [0, 1], got 2.0", e.getMessage());
        e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Strategies.create("fedbuff", Map.of("examples_floor", 0.5, "weighting", "uniform"), scalar(0)));
        assertEquals("fedbuff.examples_floor: 0.5 weighs buffers by their examples: it needs weighting: examples",
                e.getMessage());
        // Uniform weighting with the auto buffer: the floor is off by default, not an error.
        assertInstanceOf(Strategy.class, Strategies.create("fedbuff", Map.of("weighting", "uniform"), scalar(0)));
    }

    /** Under the floor an update counts towards K as far as its examples go: tiny ones cannot fill a buffer. */
    @Test
    void tinyUpdatesCountTowardsTheBufferAsFarAsTheirExamplesGo() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 2, "examples_floor", 0.5), scalar(0));
        s.onUpdate(update("a", 0, 100, scalar(1)));
        s.onUpdate(update("b", 0, 100, scalar(1)));
        assertEquals(1, s.version());
        // r = (2·100² + n²…)/(200 + …) stays near 100: each one-example update counts about 1/50 of a place.
        for (int i = 0; i < 40; i++) {
            assertInstanceOf(Buffered.class, s.onUpdate(update("tiny" + i, 1, 1, scalar(1))), "tiny update " + i);
        }
        assertEquals(1, s.version());
        assertInstanceOf(Buffered.class, s.onUpdate(update("c", 1, 100, scalar(1))));
        assertInstanceOf(Published.class, s.onUpdate(update("d", 1, 100, scalar(1))), "two typical updates fill it");
        assertEquals(2, s.version());
        // The aggregate is the examples-weighted mean of all 42, a full step (m is typical).
        assertEquals(2, value(s.model()), 1e-5);
        // Without the floor the tiny updates fill buffers by themselves.
        Strategy off = Strategies.create("fedbuff", Map.of("buffer_size", 2), scalar(0));
        off.onUpdate(update("a", 0, 100, scalar(1)));
        off.onUpdate(update("b", 0, 100, scalar(1)));
        off.onUpdate(update("t1", 1, 1, scalar(1)));
        assertInstanceOf(Published.class, off.onUpdate(update("t2", 1, 1, scalar(1))));
    }

    @Test
    void theBufferHoldsAtMostMaxBufferSizeUpdates() {
        Strategy s = Strategies.create("fedbuff", Map.of("initial_buffer_size", 2, "max_buffer_size", 5), scalar(0));
        s.onUpdate(update("a", 0, 1000, scalar(1)));
        s.onUpdate(update("b", 0, 1000, scalar(1)));
        long v = s.version();
        for (int i = 0; i < 4; i++) {
            assertInstanceOf(Buffered.class, s.onUpdate(update("tiny" + i, v, 1, scalar(1))));
        }
        assertInstanceOf(Published.class, s.onUpdate(update("tiny4", v, 1, scalar(1))), "the fifth held update publishes");
    }

    /**
     * The mean folded in update by update (the delta not kept) is the weighted mean the merge module's
     * linear method computes over all the held deltas at once, to f32 rounding, buffer after buffer.
     */
    @Test
    void theRunningMeanIsTheWeightedMeanOfTheBuffer() {
        Map<String, Object> streamed = Map.of("buffer_size", 20);
        Strategy s = Strategies.create("fedbuff", streamed, Fixtures.random(new Random(1), 1));
        Strategy kept = Strategies.create("fedbuff", Map.of("buffer_size", 20, "aggregator", "linear"),
                Fixtures.random(new Random(1), 1));
        assertFalse(s.keepsDeltas());
        assertTrue(kept.keepsDeltas());
        Random rnd = new Random(7);
        for (int i = 0; i < 60; i++) {
            TensorMap delta = Fixtures.random(rnd, 0.1);
            long examples = 1 + rnd.nextInt(500);
            long base = Math.max(0, s.version() - rnd.nextInt(2));
            Decision d = s.onUpdate(update("u" + i, base, examples, delta));
            assertEquals(d, kept.onUpdate(update("u" + i, base, examples, TensorOps.copy(delta))));
            // What a reused receive buffer would do to a delta the strategy let go of.
            delta.tensor("a").data().fill((byte) 0x3f);
            delta.tensor("b").data().fill((byte) 0x3f);
        }
        assertEquals(3, s.version());
        for (String name : s.model().names()) {
            for (int j = 0; j < s.model().tensor(name).numel(); j++) {
                assertEquals(kept.model().tensor(name).getFloat(j), s.model().tensor(name).getFloat(j), 2e-6, name + "[" + j + "]");
            }
        }
    }

    /** The running mean never holds a sum: weights far beyond what f32 sums of w·δ survive still publish finite. */
    @Test
    void hugeWeightsDoNotOverflowTheRunningMean() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 3), scalar(0));
        s.onUpdate(update("a", 0, 1L << 50, scalar(3e38)));
        s.onUpdate(update("b", 0, 1L << 50, scalar(1e38)));
        assertInstanceOf(Published.class, s.onUpdate(update("c", 0, 1L << 50, scalar(2e38))));
        assertEquals(2e38, value(s.model()), 1e32);
    }

    private static final Map<String, Object> FEDAU = Map.of("weighting", "uniform", "staleness", "constant",
            "participation_weights", "fedau");

    private static Map<String, Object> fedau(Object... more) {
        Map<String, Object> cfg = new java.util.HashMap<>(FEDAU);
        for (int i = 0; i < more.length; i += 2) {
            cfg.put((String) more[i], more[i + 1]);
        }
        return cfg;
    }

    /** Pushes {@code worker}'s update (delta {@code d}) based on the current version. */
    private static Decision push(Strategy s, String worker, String id, double d) {
        return s.onUpdate(new Update(id, s.version(), 1, 1, scalar(d), Map.of(), worker));
    }

    /**
     * One update per publish under the sum, so each moves the model by its weight: merged in order f f f s f f
     * f s f s, the ninth (f) weighs its mean interval (1, 1, 2, 1, 1 averaged as they came: 1.2) over N̂ = 2
     * workers, and the tenth (s) its one interval, 4, over 2. A restart from the state in between agrees.
     */
    @Test
    void participationWeightsGiveTheRareWorkerItsShare() {
        Map<String, Object> cfg = fedau("buffer_size", 1, "aggregator", "sum");
        Strategy s = Strategies.create("fedbuff", cfg, scalar(0));
        Map<String, Object> plain = new java.util.HashMap<>(cfg);
        plain.remove("participation_weights");
        Strategy off = Strategies.create("fedbuff", plain, scalar(0));
        String[] order = {"f", "f", "f", "s", "f", "f", "f", "s"};
        for (Strategy x : List.of(s, off)) {
            for (int i = 0; i < order.length; i++) {
                assertInstanceOf(Published.class, push(x, order[i], "u" + i, 0));
            }
        }
        Strategy restarted = Strategies.create("fedbuff", cfg, scalar(0));
        restarted.restoreState(s.model(), s.version(), s.exportState());
        for (Strategy x : List.of(s, off, restarted)) {
            push(x, "f", "u8", 1);
            push(x, "s", "u9", 1);
        }
        assertEquals(1.2 / 2 + 4.0 / 2, value(s.model()), 1e-6);
        assertEquals(2, value(off.model()), 1e-6, "unweighted: one each");
        assertEquals(value(s.model()), value(restarted.model()), 0, "restored from the state");
    }

    /**
     * Under participation weights K counts effective updates, (Σw)²/Σw²: after f f | f s, f weighs 1/2 and s
     * (new) 1, so f s is 1.8 updates' worth and the buffer of 2 takes a third (2.67) before it publishes. A
     * restart that adopts the two held updates publishes the same model.
     */
    @Test
    void participationWeightsCountTheBufferInEffectiveUpdates() {
        Map<String, Object> cfg = fedau("buffer_size", 2);
        Strategy s = Strategies.create("fedbuff", cfg, scalar(0));
        String[] order = {"f", "f", "f", "s"};
        for (int i = 0; i < order.length; i++) {
            push(s, order[i], "u" + i, 0);
        }
        assertEquals(2, s.version());
        assertEquals(new Buffered(1, 2), push(s, "f", "u4", 1));
        assertEquals(new Buffered(2, 2), push(s, "s", "u5", 4));
        Strategy adopted = Strategies.reconfigure(s, fedau("buffer_size", 2, "max_staleness", 100), List.of(
                new Update("u4", 2, 1, 1, scalar(1), Map.of(), "f"), new Update("u5", 2, 1, 1, scalar(4), Map.of(), "s")));
        for (Strategy x : List.of(s, adopted)) {
            assertEquals(new Published(3, List.of("u4", "u5", "u6"), Map.of()), push(x, "f", "u6", 1));
        }
        assertEquals((0.5 * 1 + 1 * 4 + 0.5 * 1) / 2, value(s.model()), 1e-6);
        assertEquals(value(s.model()), value(adopted.model()), 0, "with the held updates adopted");
    }

    /**
     * The effective count is over the participation weights alone: two first updates (p = 1 each) of 1 and
     * 1,000 examples, and staleness 0 and 3, weighed by examples and 1/√(1+τ), are two updates' worth and fill
     * a buffer of 2. Counted over the whole weights, (1 + 500)²/(1 + 500²) ≈ 1.004, the buffer would wait.
     */
    @Test
    void theEffectiveCountLeavesExamplesAndStalenessOut() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 2, "participation_weights", "fedau",
                "max_staleness", 10, "aggregator", "mean"), scalar(0));
        for (int i = 0; i < 3; i++) {
            assertInstanceOf(Buffered.class, s.onUpdate(new Update("w" + i, s.version(), 1, 1, scalar(0), Map.of(), "w")));
            assertInstanceOf(Published.class, s.onUpdate(new Update("v" + i, s.version(), 1, 1, scalar(0), Map.of(), "v")));
        }
        assertEquals(3, s.version());
        assertEquals(new Buffered(1, 2), s.onUpdate(new Update("a", 3, 1, 1, scalar(1), Map.of(), "a")));
        Decision d = s.onUpdate(new Update("b", 0, 1000, 1, scalar(2), Map.of(), "b"));
        assertEquals(new Published(4, List.of("a", "b"), Map.of()), d);
        assertEquals((1 * 1 + 1000 / 2.0 * 2) / (1 + 1000 / 2.0), value(s.model()), 1e-5);
    }

    @Test
    void participationWeightsAreChecked() {
        assertEquals("fedbuff.participation_weights: must be fedau (each worker weighed by its mean participation "
                + "interval) or none, got \"fedavg\"", org.junit.jupiter.api.Assertions.assertThrows(
                IllegalArgumentException.class, () -> Strategies.create("fedbuff",
                        Map.of("participation_weights", "fedavg"), scalar(0))).getMessage());
        assertEquals("fedbuff.participation_cap: must be a number >= 1, got 0.5", org.junit.jupiter.api.Assertions
                .assertThrows(IllegalArgumentException.class, () -> Strategies.create("fedbuff",
                        Map.of("participation_weights", "fedau", "participation_cap", 0.5), scalar(0))).getMessage());
        assertEquals("fedbuff.participation_cap: applies to participation_weights: fedau", org.junit.jupiter.api
                .Assertions.assertThrows(IllegalArgumentException.class, () -> Strategies.create("fedbuff",
                        Map.of("participation_cap", 5), scalar(0))).getMessage());
    }
}
