package dev.tributary.coordinator.optimizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ServerOptimizerTest {

    private static TensorMap scalar(double v) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {1}, (float) v));
    }

    private static double value(TensorMap m) {
        return m.tensor("w").getFloat(0);
    }

    /** Flower's case: clients at 1.0 (1 example) and 3.0 (2 examples); Δ = weighted mean − θ. */
    private static TensorMap flowerDelta(double theta) {
        double aggregate = (1 * 1.0 + 2 * 3.0) / 3;
        return scalar(aggregate - theta);
    }

    private static double flowerRound(ServerOptimizer opt, double theta) {
        return value(opt.step(scalar(theta), flowerDelta(theta)));
    }

    @Test
    void fedAvgMWithoutMomentumMovesToTheWeightedMean() {
        assertEquals(7.0 / 3, flowerRound(ServerOptimizer.momentum(1, 0, false), 0), 1e-6);
        assertEquals(7.0 / 3, flowerRound(ServerOptimizer.sgd(1), 0), 1e-6);
    }

    @Test
    void fedAvgMWithMomentumMatchesFlowerOverTwoRounds() {
        ServerOptimizer opt = ServerOptimizer.momentum(1, 0.9, false);
        double r1 = flowerRound(opt, 0);
        double r2 = flowerRound(opt, r1);
        assertEquals(2.3333, r1, 1e-4);
        assertEquals(4.4333, r2, 1e-4);
        // Round 2 has Δ = 0, so only the buffer moves the model: θ₂ = θ₁ + μ·(7/3).
        assertEquals(7.0 / 3 + 0.9 * 7.0 / 3, r2, 1e-6);
    }

    @Test
    void fedAdamMatchesFlowerRoundOne() {
        assertEquals(0.0739291, flowerRound(ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3), 0), 1e-6);
    }

    @Test
    void fedYogiMatchesFlowerRoundOne() {
        assertEquals(0.0099573, flowerRound(ServerOptimizer.yogi(0.01, 0.9, 0.99, 1e-3), 0), 1e-6);
    }

    @Test
    void fedAdagradMatchesFlower() {
        // Previous weight 0.1, clients 0.2 and 1.0 with equal weights.
        double theta = 0.1;
        TensorMap delta = scalar((0.2 + 1.0) / 2 - theta);
        assertEquals(0.15, value(ServerOptimizer.adagrad(0.1, 0.5).step(scalar(theta), delta)), 1e-6);
    }

    @Test
    void nesterovOuterStepFollowsDiLoCo() {
        ServerOptimizer opt = ServerOptimizer.momentum(0.7, 0.9, true);
        double theta = 1.0;
        double[] workerMeans = {0.5, 0.2, 0.4};
        double b = 0;
        for (int step = 0; step < workerMeans.length; step++) {
            double g = theta - workerMeans[step];
            b = step == 0 ? g : 0.9 * b + g;
            double expected = theta - 0.7 * (g + 0.9 * b);
            theta = value(opt.step(scalar(theta), scalar(workerMeans[step] - theta)));
            assertEquals(expected, theta, 1e-6, "step " + step);
        }
        assertEquals(3, opt.steps());
    }

    /** Every optimizer against a plain f64 reference of its formula, on random vectors over several steps. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("optimizers")
    void matchesReferenceFormulas(String name, Supplier<ServerOptimizer> factory) {
        Random rnd = new Random(7);
        int n = 257;
        float[] theta = new float[n];
        for (int i = 0; i < n; i++) {
            theta[i] = (float) rnd.nextGaussian();
        }
        Reference ref = new Reference(name, theta);
        ServerOptimizer opt = factory.get();
        TensorMap params = new TensorMap().put("layer.weight", Tensor.ofFloats(new long[] {n}, theta));
        for (int step = 0; step < 5; step++) {
            float[] d = new float[n];
            for (int i = 0; i < n; i++) {
                d[i] = (float) (0.1 * rnd.nextGaussian());
            }
            params = opt.step(params, new TensorMap().put("layer.weight", Tensor.ofFloats(new long[] {n}, d)));
            double[] expected = ref.step(d);
            float[] got = params.tensor("layer.weight").toFloatArray();
            for (int i = 0; i < n; i++) {
                assertEquals(expected[i], got[i], 1e-5 * Math.max(1, Math.abs(expected[i])), name + " step " + step + " [" + i + "]");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("optimizers")
    void exportRestoreGivesBitIdenticalSteps(String name, Supplier<ServerOptimizer> factory) {
        Random rnd = new Random(11);
        ServerOptimizer a = factory.get();
        TensorMap params = randomModel(rnd);
        for (int i = 0; i < 3; i++) {
            params = a.step(params, scaled(randomModel(rnd), 0.1f));
        }
        TensorMap state = a.exportState();
        List<float[]> exported = state.names().stream().map(n -> state.tensor(n).toFloatArray()).toList();
        ServerOptimizer b = factory.get();
        b.restoreState(state);
        assertEquals(a.steps(), b.steps());
        TensorMap pa = params;
        TensorMap pb = params;
        for (int i = 0; i < 3; i++) {
            TensorMap delta = scaled(randomModel(rnd), 0.1f);
            pa = a.step(pa, delta);
            pb = b.step(pb, delta);
        }
        for (String t : pa.names()) {
            assertTrue(pa.tensor(t).contentEquals(pb.tensor(t)), name + ": tensor " + t + " differs after restore");
        }
        // The export is a copy: stepping on does not change it.
        for (int i = 0; i < exported.size(); i++) {
            assertArrayEquals(exported.get(i), state.tensor(state.names().get(i)).toFloatArray());
        }
        assertEquals(a.name(), state.metadata().get("optimizer"));
        assertEquals("3", state.metadata().get("steps"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("optimizers")
    void stepLeavesItsInputsUntouched(String name, Supplier<ServerOptimizer> factory) {
        Random rnd = new Random(3);
        TensorMap params = randomModel(rnd);
        TensorMap delta = randomModel(rnd);
        float[] before = params.tensor("b").toFloatArray();
        float[] deltaBefore = delta.tensor("b").toFloatArray();
        TensorMap out = factory.get().step(params, delta);
        assertArrayEquals(before, params.tensor("b").toFloatArray());
        assertArrayEquals(deltaBefore, delta.tensor("b").toFloatArray());
        assertEquals(params.names(), out.names());
    }

    static Stream<Arguments> optimizers() {
        return Stream.of(
                Arguments.of("sgd", (Supplier<ServerOptimizer>) () -> ServerOptimizer.sgd(0.5)),
                Arguments.of("momentum", (Supplier<ServerOptimizer>) () -> ServerOptimizer.momentum(0.7, 0.9, false)),
                Arguments.of("nesterov", (Supplier<ServerOptimizer>) () -> ServerOptimizer.momentum(0.7, 0.9, true)),
                Arguments.of("adam", (Supplier<ServerOptimizer>) () -> ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3)),
                Arguments.of("yogi", (Supplier<ServerOptimizer>) () -> ServerOptimizer.yogi(0.01, 0.9, 0.99, 1e-3)),
                Arguments.of("adagrad", (Supplier<ServerOptimizer>) () -> ServerOptimizer.adagrad(0.1, 1e-3)));
    }

    @Test
    void refusesMismatchedInputsNamingTheTensor() {
        ServerOptimizer opt = ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3);
        TensorMap params = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, 2));
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> opt.step(params, new TensorMap().put("w", Tensor.ofFloats(new long[] {1, 2}, 1, 2))));
        assertEquals("tensor w: delta shape [1,2] != model shape [2]", shape.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> opt.step(params, new TensorMap()));
        assertEquals("delta lacks tensor w", missing.getMessage());
        IllegalArgumentException extra = assertThrows(IllegalArgumentException.class, () -> opt.step(params,
                new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, 2)).put("x", Tensor.ofFloats(new long[] {1}, 0))));
        assertEquals("delta has tensor x that the model lacks", extra.getMessage());
        IllegalArgumentException dtype = assertThrows(IllegalArgumentException.class, () -> opt.step(params,
                new TensorMap().put("w", Tensor.ofFloats(DType.BF16, new long[] {2}, 1, 2))));
        assertEquals("tensor w: dtype BF16, server optimizers need F32", dtype.getMessage());
        // A refused step changes nothing: the next good step is the first one.
        assertEquals(0, opt.steps());
        assertEquals(0, opt.exportState().size());
    }

    @Test
    void refusesBadHyperparametersAndForeignState() {
        IllegalArgumentException lr = assertThrows(IllegalArgumentException.class, () -> ServerOptimizer.sgd(-1));
        assertEquals("sgd lr must be finite and > 0, got -1.0", lr.getMessage());
        IllegalArgumentException beta = assertThrows(IllegalArgumentException.class,
                () -> ServerOptimizer.yogi(0.01, 1.0, 0.99, 1e-3));
        assertEquals("yogi beta1 must be in [0, 1), got 1.0", beta.getMessage());
        TensorMap adamState = ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3).exportState();
        IllegalArgumentException foreign = assertThrows(IllegalArgumentException.class,
                () -> ServerOptimizer.yogi(0.01, 0.9, 0.99, 1e-3).restoreState(adamState));
        assertEquals("optimizer state of \"adam\" cannot restore optimizer yogi", foreign.getMessage());
        TensorMap bad = new TensorMap().putMetadata("optimizer", "adam").putMetadata("steps", "1")
                .put("q/w", Tensor.ofFloats(new long[] {1}, 0));
        IllegalArgumentException slot = assertThrows(IllegalArgumentException.class,
                () -> ServerOptimizer.adam(0.1, 0.9, 0.99, 1e-3).restoreState(bad));
        assertEquals("optimizer state: tensor q/w is not <slot>/<param> with slot in [m, v]", slot.getMessage());
    }

    @Test
    void momentumStateKeepsTheBufferPerTensor() {
        ServerOptimizer opt = ServerOptimizer.momentum(1, 0.5, false);
        opt.step(scalar(0), scalar(1));
        TensorMap state = opt.exportState();
        assertEquals(List.of("buffer/w"), state.names());
        assertEquals(-1f, state.tensor("buffer/w").getFloat(0));
        assertEquals(List.of(), ServerOptimizer.momentum(1, 0, false).exportState().names());
    }

    private static TensorMap randomModel(Random rnd) {
        float[] a = new float[6];
        float[] b = new float[3];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rnd.nextGaussian();
        }
        return new TensorMap().put("a", Tensor.ofFloats(new long[] {2, 3}, a)).put("b", Tensor.ofFloats(new long[] {3}, b));
    }

    private static TensorMap scaled(TensorMap m, float s) {
        TensorMap out = new TensorMap();
        for (String n : m.names()) {
            float[] v = m.tensor(n).toFloatArray();
            for (int i = 0; i < v.length; i++) {
                v[i] *= s;
            }
            out.put(n, Tensor.ofFloats(m.tensor(n).shape(), v));
        }
        return out;
    }

    /** The optimizers' formulas in f64 on plain arrays, state kept in f32 as the implementations keep it. */
    private static final class Reference {
        private final String name;
        private final double[] theta;
        private final float[] m;
        private final float[] v;
        private int t;

        Reference(String name, float[] theta) {
            this.name = name;
            this.theta = new double[theta.length];
            for (int i = 0; i < theta.length; i++) {
                this.theta[i] = theta[i];
            }
            this.m = new float[theta.length];
            this.v = new float[theta.length];
        }

        double[] step(float[] d) {
            for (int i = 0; i < theta.length; i++) {
                double g = -(double) d[i];
                switch (name) {
                    case "sgd" -> theta[i] += 0.5 * d[i];
                    case "momentum", "nesterov" -> {
                        double b = t == 0 ? g : 0.9 * m[i] + g;
                        m[i] = (float) b;
                        theta[i] -= 0.7 * (name.equals("nesterov") ? g + 0.9 * b : b);
                    }
                    case "adam" -> {
                        m[i] = (float) (0.9 * m[i] + 0.1 * d[i]);
                        v[i] = (float) (0.99 * v[i] + 0.01 * d[i] * d[i]);
                        double eta = 0.1 * Math.sqrt(1 - Math.pow(0.99, t + 2)) / (1 - Math.pow(0.9, t + 2));
                        theta[i] += eta * m[i] / (Math.sqrt(v[i]) + 1e-3);
                    }
                    case "yogi" -> {
                        double d2 = (double) d[i] * d[i];
                        m[i] = (float) (0.9 * m[i] + 0.1 * d[i]);
                        v[i] = (float) (v[i] - 0.01 * d2 * Math.signum(v[i] - d2));
                        theta[i] += 0.01 * m[i] / (Math.sqrt(v[i]) + 1e-3);
                    }
                    case "adagrad" -> {
                        v[i] = (float) (v[i] + (double) d[i] * d[i]);
                        theta[i] += 0.1 * d[i] / (Math.sqrt(v[i]) + 1e-3);
                    }
                    default -> throw new IllegalStateException(name);
                }
                theta[i] = (float) theta[i];
            }
            t++;
            return theta.clone();
        }
    }
}
