package dev.tributary.worker.diloco;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DiLoCoLoopTest {

    static DiLoCoPlan plan(int h, int fragments, double alpha, int delay) {
        List<List<String>> f = fragments == 1 ? List.of(List.of("a", "b")) : List.of(List.of("a"), List.of("b"));
        return new DiLoCoPlan(h, f, alpha, delay, InnerOptimizer.sgd(1, 0, 0));
    }

    @Test
    void roundsShareHAmongTheFragmentsAndTakeThemInTurn() {
        DiLoCoPlan p = new DiLoCoPlan(500, List.of(List.of("a"), List.of("b"), List.of("c")), 0, 0, InnerOptimizer.diloco());
        assertEquals(List.of(166, 167, 167, 166), List.of(p.stepsOf(0), p.stepsOf(1), p.stepsOf(2), p.stepsOf(3)));
        assertEquals(List.of(0, 1, 2, 0), List.of(p.fragmentOf(0), p.fragmentOf(1), p.fragmentOf(2), p.fragmentOf(3)));
        assertEquals("sync delay 3: must be in [0, inner steps / fragments = 3)",
                assertThrows(IllegalArgumentException.class, () -> plan(6, 2, 0, 3)).getMessage());
    }

    @Test
    void lerpIsTorchs() {
        assertEquals(-8f, DiLoCoLoop.lerp(-5, -11, 0.5f));
        assertEquals(-11f, DiLoCoLoop.lerp(-5, -11, 1f));
        assertEquals(-5f, DiLoCoLoop.lerp(-5, -11, 0f));
        assertEquals(0.25f, DiLoCoLoop.lerp(0, 1, 0.25f));
    }

    /** Every step subtracts 1 from each weight. */
    static Replica counting(float[] w) {
        return new Replica() {
            @Override
            public TrainResult train(int steps) {
                for (int i = 0; i < w.length; i++) {
                    w[i] -= steps;
                }
                return new TrainResult(new TensorMap(), 2L * steps, steps, Map.of("loss", 1.0));
            }

            @Override
            public TensorMap weights(List<String> names) {
                TensorMap out = new TensorMap();
                names.forEach(n -> out.put(n, Tensor.ofFloats(new long[] {1}, w[n.equals("a") ? 0 : 1])));
                return out;
            }

            @Override
            public void assign(TensorMap t) {
                t.names().forEach(n -> w[n.equals("a") ? 0 : 1] = t.tensor(n).getFloat(0));
            }

            @Override
            public void close() {}
        };
    }

    static TensorMap model(float a, float b) {
        return new TensorMap().put("a", Tensor.ofFloats(new long[] {1}, a)).put("b", Tensor.ofFloats(new long[] {1}, b));
    }

    @Test
    void aPushCoversEveryStepSinceTheFragmentsLastSyncAndAMissedRoundResyncsEverything() {
        float[] w = {0, 0};
        try (DiLoCoLoop loop = new DiLoCoLoop(plan(4, 2, 0, 1), counting(w), model(0, 0), 0)) {
            DiLoCoLoop.Outgoing first = loop.prepare();
            assertEquals(0, first.fragment());
            assertEquals(List.of("a"), first.result().delta().names());
            assertEquals(-1f, first.result().delta().tensor("a").getFloat(0));
            assertEquals(2, loop.overlap());
            assertEquals(0, loop.overlap(), "the overlap runs once per round");
            loop.merge(model(10, 0), 1);
            assertEquals(10f, w[0]);
            assertEquals(-2f, w[1], "the other fragment keeps its local progress");
            DiLoCoLoop.Outgoing second = loop.prepare();
            assertEquals(1, second.fragment());
            assertEquals(-3f, second.result().delta().tensor("b").getFloat(0), "all three steps since the start");
            assertEquals(2, second.result().steps(), "the previous overlap and this round's step");
            loop.merge(model(7, 7), 5);
            assertEquals(List.of(7f, 7f), List.of(w[0], w[1]));
            assertTrue(loop.version() == 5 && !loop.awaitingMerge());
            assertEquals(1, loop.prepare().fragment(), "round 5 syncs fragment 5 mod 2");
        }
    }

    /** One tensor {@code w} of {@code w.length} elements; every step subtracts 1 + its index from each element. */
    static Replica vector(float[] w) {
        return new Replica() {
            @Override
            public TrainResult train(int steps) {
                for (int i = 0; i < w.length; i++) {
                    w[i] -= steps * (1 + i);
                }
                return new TrainResult(new TensorMap(), steps, steps, Map.of());
            }

            @Override
            public TensorMap weights(List<String> names) {
                return new TensorMap().put("w", Tensor.ofFloats(new long[] {2, w.length / 2}, w.clone()));
            }

            @Override
            public void assign(TensorMap t) {
                float[] v = t.tensor("w").toFloatArray();
                System.arraycopy(v, 0, w, 0, w.length);
            }

            @Override
            public void close() {}
        };
    }

    @Test
    void fragmentsCutInsideATensorPushAndMixOnlyTheirElementsAndAFragmentPullEqualsAFullOne() {
        // w [2,3] in three fragments of two elements: the names list w three times.
        DiLoCoPlan p = new DiLoCoPlan(6, List.of(List.of("w"), List.of("w"), List.of("w")), 0.5, 0, InnerOptimizer.sgd(1, 0, 0));
        float[] viaFull = new float[6];
        float[] viaFragment = new float[6];
        TensorMap global = new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 3}, new float[6]));
        try (DiLoCoLoop full = new DiLoCoLoop(p, vector(viaFull), global, 0);
                DiLoCoLoop frag = new DiLoCoLoop(p, vector(viaFragment), global, 0)) {
            assertEquals(List.of(new dev.tributary.tensor.Fragments.Slice("w", 2, 4)), full.fragment(1));
            for (int round = 0; round < 5; round++) {
                DiLoCoLoop.Outgoing a = full.prepare();
                DiLoCoLoop.Outgoing b = frag.prepare();
                int f = round % 3;
                assertEquals(f, a.fragment());
                Tensor d = a.result().delta().tensor("w");
                assertEquals(List.of(2L), java.util.Arrays.stream(d.shape()).boxed().toList(), "a 1-D slice of 2");
                assertEquals(java.util.Arrays.toString(d.toFloatArray()),
                        java.util.Arrays.toString(b.result().delta().tensor("w").toFloatArray()));
                // The coordinator's next version moves only the fragment: global − 1 there.
                float[] next = global.tensor("w").toFloatArray();
                next[2 * f] -= 1;
                next[2 * f + 1] -= 1;
                TensorMap nextModel = new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 3}, next));
                assertEquals(f, frag.fragmentFor(round + 1));
                full.merge(nextModel, round + 1);
                frag.mergeFragment(dev.tributary.tensor.Fragments.cut(nextModel, frag.fragment(f)), round + 1);
                assertEquals(java.util.Arrays.toString(viaFull), java.util.Arrays.toString(viaFragment), "round " + round);
                global = nextModel;
            }
            assertEquals(-1, frag.fragmentFor(7), "a version after a missed round needs the whole model");
            frag.prepare();
            assertThrows(IllegalStateException.class, () -> frag.mergeFragment(new TensorMap(), 9));
        }
        float[] check = new float[6];
        try (DiLoCoLoop l = new DiLoCoLoop(p, vector(check), new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 3},
                new float[6])), 0)) {
            l.prepare(); // 2 steps: w = [-2, -4, -6, ...]; mixing at α 0.5 with global -1 gives -1.5 and -2.5
            TensorMap next = new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 3}, -1, -1, 0, 0, 0, 0));
            l.mergeFragment(dev.tributary.tensor.Fragments.cut(next, l.fragment(0)), 1);
            assertEquals(-1.5f, check[0]);
            assertEquals(-2.5f, check[1]);
            assertEquals(-6f, check[2], "outside the fragment the replica keeps its local value");
        }
    }
}
