package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.SafetensorsBytes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * torchft's Streaming DiLoCo regression through the simulator: two clients run the worker's inner loop on
 * the constant-gradient model against the diloco strategy, as registration hands it over.
 */
class DiLoCoSimulationTest {

    /** The fixture's model for every client; each evaluation records the global model. */
    private static final class Fixture implements Workload {
        final ConstantGradient trainer = new ConstantGradient();
        final List<float[]> globals = new ArrayList<>();
        Simulation.Result result;

        @Override
        public TensorMap initialModel() {
            return ConstantGradient.model();
        }

        @Override
        public TrainResult train(int client, TensorMap weights, long seed) {
            throw new UnsupportedOperationException("diloco clients run replicas");
        }

        @Override
        public Replica open(int client, TensorMap weights, InnerOptimizer optimizer, long seed) {
            return trainer.open(weights, optimizer, seed);
        }

        @Override
        public double accuracy(TensorMap weights) {
            globals.add(new float[] {weights.tensor("f0").getFloat(0), weights.tensor("f1").getFloat(0)});
            return 0;
        }

        @Override
        public void close() {}
    }

    /** Runs to {@code versions} syncs; every version is evaluated (a round takes 3 virtual seconds). */
    static Fixture run(double alpha, int delay, int versions) {
        Map<String, Object> strategy = new LinkedHashMap<>(ConstantGradient.strategy(alpha, delay));
        strategy.put("name", "diloco");
        Map<String, Object> m = Configs.synthetic(2, strategy, 100);
        m.put("speeds", Map.of("distribution", "constant", "median", 1));
        m.put("budget", Map.of("virtual_seconds", 100, "versions", versions));
        m.put("eval_every", 0.5);
        Fixture f = new Fixture();
        Simulation.Result r = Simulation.run(Configs.parse(m), f, null);
        assertEquals(versions, r.version());
        f.result = r;
        return f;
    }

    /** The global f0 (or f1) at each new version, in order. */
    static List<Float> distinct(Fixture f, int tensor) {
        List<Float> out = new ArrayList<>();
        for (float[] g : f.globals) {
            if (out.isEmpty() || out.getLast() != g[tensor]) {
                out.add(g[tensor]);
            }
        }
        return out;
    }

    @Test
    void alpha0GivesTorchftsGlobalsAtEverySync() {
        Fixture f = run(0, 0, 4);
        // Versions 1..4 sync f0, f1, f0, f1: −11, −23, −35, −47 (each pseudo-gradient covers 6 steps after the first).
        assertEquals(List.of(1f, -11f, -35f), distinct(f, 0));
        assertEquals(List.of(1f, -23f, -47f), distinct(f, 1));
        // α = 0: the replicas take the global fragment as is.
        assertEquals(Map.of("f0", -11f), f.trainer.assigned.getFirst().getFirst());
    }

    @Test
    void alphaHalfAndOneMixTheLocalFragment() {
        Fixture half = run(0.5, 0, 3);
        assertEquals(Map.of("f0", -8f), half.trainer.assigned.getFirst().getFirst());
        assertEquals(List.of(1f, -11f, -29f), distinct(half, 0));
        Fixture one = run(1, 0, 3);
        assertEquals(Map.of("f0", -5f), one.trainer.assigned.getFirst().getFirst());
        assertEquals(List.of(1f, -11f, -23f), distinct(one, 0));
    }

    @Test
    void delayOnePushesAStepEarlier() {
        Fixture f = run(0, 1, 2);
        // Pushed after step 2 (local −3, pseudo-gradient 4), merged after step 3: global and local −7.
        assertEquals(-7f, distinct(f, 0).get(1));
        assertEquals(Map.of("f0", -7f), f.trainer.assigned.getFirst().getFirst());
    }

    @Test
    void aClientOneVersionPastItsPushPullsOnlyThatFragment() {
        Fixture f = run(0, 0, 4);
        long model = SafetensorsBytes.encodedSize(ConstantGradient.model(), Map.of());
        long fragment = SafetensorsBytes.encodedSize(new TensorMap().put("f1", Tensor.ofFloats(new long[] {1}, 0f)), Map.of());
        assertTrue(fragment < model, fragment + " < " + model);
        // Both clients pull the whole model to start, then after each of the 4 publishes the fragment it pushed.
        assertEquals(2 * model + 2 * 4 * fragment, f.result.report().bytesDown());
    }
}
