package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AggregatorTest {

    /** A fedavg round over scalar deltas with the given aggregator; returns the new model value. */
    private static double round(double theta, Map<String, Object> cfg, double... deltas) {
        Map<String, Object> full = new HashMap<>(cfg);
        full.put("min_workers", deltas.length);
        Strategy s = Strategies.create("fedavg", full, scalar(theta));
        for (int i = 0; i < deltas.length; i++) {
            s.onUpdate(update("u" + i, 0, i + 1, scalar(deltas[i])));
        }
        assertEquals(1, s.version());
        return value(s.model());
    }

    @Test
    void meanAndSumWeighTheDeltas() {
        Random rnd = new Random(1);
        TensorMap base = Fixtures.random(rnd, 1);
        List<Aggregator.Input> inputs = new ArrayList<>();
        double[] w = {1, 2, 5};
        for (int i = 0; i < w.length; i++) {
            inputs.add(new Aggregator.Input("u" + i, Fixtures.random(rnd, 1), w[i]));
        }
        TensorMap mean = Aggregator.weightedMean().aggregate(base, inputs);
        TensorMap sum = Aggregator.weightedSum().aggregate(base, inputs);
        for (String t : base.names()) {
            float[] m = mean.tensor(t).toFloatArray();
            float[] s = sum.tensor(t).toFloatArray();
            for (int j = 0; j < m.length; j++) {
                double expectedSum = 0;
                for (int i = 0; i < w.length; i++) {
                    expectedSum += w[i] * inputs.get(i).delta().tensor(t).getFloat(j);
                }
                assertEquals(expectedSum / 8, m[j], 1e-6);
                assertEquals(expectedSum, s[j], 1e-5);
            }
        }
        assertEquals("update x: weight must be finite and > 0, got 0.0", assertThrows(IllegalArgumentException.class,
                () -> new Aggregator.Input("x", base, 0)).getMessage());
    }

    @Test
    void linearMergeAggregatorEqualsTheWeightedMean() {
        Random rnd = new Random(2);
        TensorMap base = Fixtures.random(rnd, 1);
        List<Aggregator.Input> inputs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            inputs.add(new Aggregator.Input("u" + i, Fixtures.random(rnd, 0.1), 1 + i));
        }
        Aggregator linear = MergeAggregator.of("test.aggregator", "linear", Map.of(), 4);
        TensorMap a = linear.aggregate(base, inputs);
        TensorMap b = Aggregator.weightedMean().aggregate(base, inputs);
        for (String t : base.names()) {
            assertArrayEquals(b.tensor(t).toFloatArray(), a.tensor(t).toFloatArray(), 1e-6f);
        }
    }

    @Test
    void robustAggregatorsReplaceTheMeanInsideAStrategy() {
        // Coordinate-wise median of an even count: mean of the two middle values.
        assertEquals(3.5, round(0, Map.of("aggregator", "median"), 1, 5, 2, 10), 1e-6);
        // Trimmed mean cutting ⌊0.25·4⌋ = 1 value from each end.
        assertEquals(3.5, round(0, Map.of("aggregator", "trimmed_mean", "aggregator_params", Map.of("beta", 0.25)),
                1, 5, 2, 10), 1e-6);
        // Krum with f = 1 keeps the update closest to its nearest other; the tie between 1 and 1.5 goes to
        // the first.
        assertEquals(1, round(0, Map.of("aggregator", "krum", "aggregator_params", Map.of("byzantine", 1)),
                1, 1.5, 0, 10), 1e-6);
        // TIES: the majority sign is +, so −2 is dropped and the kept deltas are averaged.
        assertEquals(2, round(0, Map.of("aggregator", "ties", "weighting", "uniform"), 1, 3, -2), 1e-6);
        // Merging happens on the workers' models, so a non-zero model changes nothing for the median.
        assertEquals(100 + 3.5, round(100, Map.of("aggregator", "median"), 1, 5, 2, 10), 1e-5);
    }

    @Test
    void mergeAggregatorsWorkInFedBuffAndDiLoCo() {
        Strategy buff = Strategies.create("fedbuff", Map.of("buffer_size", 3, "aggregator", "median"), scalar(1));
        buff.onUpdate(update("a", 0, 1, scalar(4)));
        buff.onUpdate(update("b", 0, 1, scalar(-8)));
        buff.onUpdate(update("c", 0, 1, scalar(0.5)));
        assertEquals(1.5, value(buff.model()), 1e-6);
        Strategy diloco = Strategies.create("diloco", Map.of("workers", 3, "aggregator", "median",
                "optimizer", "sgd"), scalar(1));
        diloco.onUpdate(update("a", 0, 1, scalar(4)));
        diloco.onUpdate(update("b", 0, 1, scalar(-8)));
        diloco.onUpdate(update("c", 0, 1, scalar(0.5)));
        assertEquals(1 + 0.5, value(diloco.model()), 1e-6);
    }

    @Test
    void mergeAggregatorProblemsSurfaceAtConfiguration() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> Strategies.create("fedavg", Map.of("aggregator", "avg"), scalar(0)));
        assertTrue(unknown.getMessage().startsWith("fedavg.aggregator: unknown aggregator \"avg\" (known: mean, sum, linear,"),
                unknown.getMessage());
        assertEquals("fedavg.aggregator: fisher needs per-model tensors (fisher), which updates do not carry",
                assertThrows(IllegalArgumentException.class,
                        () -> Strategies.create("fedavg", Map.of("aggregator", "fisher"), scalar(0))).getMessage());
        IllegalArgumentException slerp = assertThrows(IllegalArgumentException.class, () -> Strategies.create("fedbuff",
                Map.of("aggregator", "slerp", "aggregator_params", Map.of("t", 0.5), "buffer_size", 3), scalar(0)));
        assertTrue(slerp.getMessage().startsWith("fedbuff.aggregator slerp over 3 updates: "), slerp.getMessage());
        IllegalArgumentException param = assertThrows(IllegalArgumentException.class, () -> Strategies.create("fedavg",
                Map.of("aggregator", "median", "aggregator_params", Map.of("beta", 0.1)), scalar(0)));
        assertTrue(param.getMessage().startsWith("fedavg.aggregator median over 2 updates: "), param.getMessage());
    }
}
