package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DiLoCoStrategyTest {

    @Test
    void outerNesterovStepOnThePseudoGradientWithDefaults() {
        Strategy s = Strategies.create("diloco", Map.of(), scalar(1));
        double theta = 1;
        double b = 0;
        double[][] workers = {{0.4, 0.6}, {0.1, -0.3}, {0.9, 0.5}};
        for (int round = 0; round < workers.length; round++) {
            double t = value(s.model());
            assertEquals(new Buffered(1, 2), s.onUpdate(update("a" + round, round, 10, scalar(workers[round][0] - t))));
            assertInstanceOf(Published.class, s.onUpdate(update("b" + round, round, 99, scalar(workers[round][1] - t))));
            // g = θ_prev − mean(θ_workers), unweighted; b = g first, μb + g after; θ = θ − lr·(g + μb).
            double g = theta - (workers[round][0] + workers[round][1]) / 2;
            b = round == 0 ? g : 0.9 * b + g;
            theta = (float) (theta - 0.7 * (g + 0.9 * b));
            assertEquals(theta, value(s.model()), 1e-6, "round " + round);
        }
    }

    @Test
    void waitsForEveryWorkerAndRefusesOldRounds() {
        Strategy s = Strategies.create("diloco", Map.of("workers", 3), scalar(0));
        s.onUpdate(update("a", 0, 1, scalar(1)));
        s.onUpdate(update("b", 0, 1, scalar(1)));
        assertEquals(new Buffered(2, 3), s.onTick(1));
        assertInstanceOf(Published.class, s.onUpdate(update("c", 0, 1, scalar(1))));
        assertEquals(Refused.STALE_ROUND, ((Refused) s.onUpdate(update("d", 0, 1, scalar(1)))).code());
    }

    private static TensorMap sized(int... sizes) {
        TensorMap m = new TensorMap();
        for (int i = 0; i < sizes.length; i++) {
            m.put("t" + i, Tensor.ofFloats(new long[] {sizes[i]}, new float[sizes[i]]));
        }
        return m;
    }

    private static List<List<String>> byTensors(TensorMap m, int count) {
        return Fragments.names(Fragments.byTensors(m.infos(), count));
    }

    @Test
    void fragmentsSplitTheModelByParameterCount() {
        TensorMap m = sized(10, 10, 30, 5, 5, 40);
        assertEquals(List.of(List.of("t0", "t1", "t2"), List.of("t3", "t4", "t5")), byTensors(m, 2));
        assertEquals(List.of(List.of("t0", "t1"), List.of("t2", "t3", "t4"), List.of("t5")), byTensors(m, 3));
        assertEquals(6, byTensors(m, 6).size());
        assertEquals(List.of(List.of("t0", "t1", "t2", "t3", "t4"), List.of("t5")), byTensors(sized(10, 10, 30, 5, 5, 400), 2));
        assertEquals(List.of(List.of("t0"), List.of("t1"), List.of("t2")), byTensors(sized(100, 1, 1), 3));
        assertEquals("fragments: 7 fragments need at least as many tensors, the model has 6 (fragment_split: elements "
                + "cuts inside tensors)", assertThrows(IllegalArgumentException.class, () -> byTensors(m, 7)).getMessage());
    }

    @Test
    void elementFragmentsCutInsideATensorAndStepOnlyTheirSlice() {
        // One tensor of 10 elements and one of 2, in 3 fragments of 4: [0,4) [4,8) of t0, then t0[8,10) and t1.
        TensorMap m = new TensorMap().put("t0", Tensor.ofFloats(new long[] {2, 5}, new float[10]))
                .put("t1", Tensor.ofFloats(new long[] {2}, new float[2]));
        Strategy s = Strategies.create("diloco", Map.of("fragments", 3, "workers", 1,
                "optimizer", Map.of("name", "sgd", "lr", 1)), m);
        assertEquals(List.of(List.of("t0"), List.of("t0"), List.of("t0", "t1")), s.innerLoop().names());
        // A whole-tensor delta does not fit a fragment that cuts the tensor.
        Refused r = (Refused) s.onUpdate(update("x", 0, 1, new TensorMap().put("t0", Tensor.ofFloats(new long[] {2, 5},
                new float[10]))));
        assertEquals(Refused.INVALID, r.code());
        assertEquals("update x: tensor t0: delta shape [2,5] != model shape [4]", r.reason());
        assertInstanceOf(Published.class, s.onUpdate(update("a", 0, 1,
                new TensorMap().put("t0", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4)))));
        assertInstanceOf(Published.class, s.onUpdate(update("b", 1, 1,
                new TensorMap().put("t0", Tensor.ofFloats(new long[] {4}, 5, 6, 7, 8)))));
        assertInstanceOf(Published.class, s.onUpdate(update("c", 2, 1,
                new TensorMap().put("t0", Tensor.ofFloats(new long[] {2}, 9, 10)).put("t1", Tensor.ofFloats(new long[] {2}, 11, 12)))));
        // SGD lr 1 on Δ = the mean delta (one worker): θ = θ + Δ, each fragment's elements once.
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, s.model().tensor("t0").toFloatArray());
        assertArrayEquals(new long[] {2, 5}, s.model().tensor("t0").shape());
        assertArrayEquals(new float[] {11, 12}, s.model().tensor("t1").toFloatArray());
        assertEquals("diloco.fragment_split: must be elements or tensors, got \"rows\"", assertThrows(
                IllegalArgumentException.class, () -> Strategies.create("diloco", Map.of("fragments", 2, "fragment_split",
                        "rows"), m)).getMessage());
        assertEquals(List.of(List.of("t0"), List.of("t1")), Strategies.create("diloco", Map.of("fragments", 2,
                "fragment_split", "tensors"), m).innerLoop().names());
    }

    @Test
    void aFragmentRoundNeedsOnlyThatFragmentsTensors() {
        Strategy s = Strategies.create("diloco", Map.of("fragments", 2, "workers", 1,
                "optimizer", Map.of("name", "sgd", "lr", 1)), twoScalars(1, 1));
        assertEquals(new Refused("update x: delta lacks tensor f0", Refused.INVALID),
                s.onUpdate(update("x", 0, 1, only("f1", 5))));
        assertInstanceOf(Published.class, s.onUpdate(update("a", 0, 1, only("f0", 2))));
        assertInstanceOf(Published.class, s.onUpdate(update("b", 1, 1, twoScalars(7, 3))));
        // Round 2 merged fragment 1 only: f0 kept its round-1 value, the 7 was ignored.
        assertEquals(3, s.model().tensor("f0").getFloat(0), 1e-6);
        assertEquals(4, s.model().tensor("f1").getFloat(0), 1e-6);
    }

    private static TensorMap twoScalars(double f0, double f1) {
        return new TensorMap().put("f0", Tensor.ofFloats(new long[] {1}, (float) f0))
                .put("f1", Tensor.ofFloats(new long[] {1}, (float) f1));
    }

    private static TensorMap only(String name, double v) {
        return new TensorMap().put(name, Tensor.ofFloats(new long[] {1}, (float) v));
    }

    /**
     * torchft's Streaming DiLoCo regression: w₀ = 1, inner gradient 2 at inner lr 1, outer plain SGD lr 2,
     * two replicas, sync every 6 steps, two fragments (fragment i syncs at steps ≡ 3(i+1) mod 6), the
     * pseudo-gradient taken {@code delay} steps before the sync and merged into the local fragment as
     * (1−α)·global + α·local at it.
     */
    private static final class StreamingHarness {
        private static final int REPLICAS = 2;
        private final Strategy strategy;
        private final double alpha;
        private final int delay;
        private final List<Map<String, Double>> local = new ArrayList<>();
        final Map<Integer, Double> globalAfterSync = new LinkedHashMap<>();
        final Map<Integer, Double> localAfterSync = new LinkedHashMap<>();
        final Map<Integer, Double> localBeforeSync = new LinkedHashMap<>();
        final Map<Integer, Double> pseudoGradient = new LinkedHashMap<>();

        StreamingHarness(double alpha, int delay) {
            this.alpha = alpha;
            this.delay = delay;
            strategy = Strategies.create("diloco", Map.of("workers", REPLICAS, "fragments", 2,
                    "optimizer", Map.of("name", "sgd", "lr", 2)), twoScalars(1, 1));
            for (int r = 0; r < REPLICAS; r++) {
                local.add(new LinkedHashMap<>(Map.of("f0", 1.0, "f1", 1.0)));
            }
        }

        void run(int steps) {
            for (int step = 1; step <= steps; step++) {
                for (Map<String, Double> p : local) {
                    p.replaceAll((k, w) -> w - 1.0 * 2.0);
                }
                for (int f = 0; f < 2; f++) {
                    String name = "f" + f;
                    int syncStep = 3 * (f + 1);
                    if (Math.floorMod(step + delay - syncStep, 6) == 0) {
                        prepare(name, step + delay);
                    }
                    if (step >= syncStep && Math.floorMod(step - syncStep, 6) == 0) {
                        perform(name, step);
                    }
                }
            }
        }

        private void prepare(String name, int syncStep) {
            double global = strategy.model().tensor(name).getFloat(0);
            localBeforeSync.put(syncStep, local.get(0).get(name));
            pseudoGradient.put(syncStep, global - local.get(0).get(name));
            for (int r = 0; r < REPLICAS; r++) {
                Decision d = strategy.onUpdate(update(name + "@" + syncStep + "/" + r, strategy.version(), 1,
                        only(name, local.get(r).get(name) - global)));
                assertEquals(r == REPLICAS - 1, d instanceof Published, "replica " + r + ": " + d);
            }
        }

        private void perform(String name, int step) {
            double global = strategy.model().tensor(name).getFloat(0);
            for (Map<String, Double> p : local) {
                p.put(name, (1 - alpha) * global + alpha * p.get(name));
            }
            if (name.equals("f0")) {
                globalAfterSync.put(step, global);
                localAfterSync.put(step, local.get(0).get(name));
            }
        }
    }

    @Test
    void streamingDiLoCoReproducesTorchftAlpha0() {
        StreamingHarness h = new StreamingHarness(0, 0);
        h.run(9);
        assertEquals(-5, h.localBeforeSync.get(3), 1e-6);
        assertEquals(6, h.pseudoGradient.get(3), 1e-6);
        assertEquals(-11, h.globalAfterSync.get(3), 1e-6);
        assertEquals(-35, h.globalAfterSync.get(9), 1e-6);
    }

    @Test
    void streamingDiLoCoReproducesTorchftAlphaHalfAndOne() {
        StreamingHarness half = new StreamingHarness(0.5, 0);
        half.run(9);
        assertEquals(-8, half.localAfterSync.get(3), 1e-6);
        assertEquals(-29, half.globalAfterSync.get(9), 1e-6);
        StreamingHarness one = new StreamingHarness(1, 0);
        one.run(9);
        assertEquals(-11, one.globalAfterSync.get(3), 1e-6);
        assertEquals(-23, one.globalAfterSync.get(9), 1e-6);
    }

    @Test
    void streamingDiLoCoReproducesTorchftWithDelay() {
        StreamingHarness h = new StreamingHarness(0, 1);
        h.run(3);
        assertEquals(-7, h.localAfterSync.get(3), 1e-6);
    }
}
