package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code strategy: noloco} in the simulator: every client's NoLoCo loop through the coordinator's relay. */
class NoLoCoSimulationTest {
    private static Map<String, Object> config(long seed) {
        Map<String, Object> m = Configs.synthetic(6, Map.of("name", "noloco", "inner_steps", 5,
                "inner_optimizer", Map.of("name", "sgd", "lr", 0.1)), 200);
        return Configs.with(m, "seed", seed);
    }

    @Test
    void sameSeedSameRunOtherSeedOtherRun() {
        Simulation.Result a = Simulation.run(Configs.parse(config(7)), null);
        Simulation.Result b = Simulation.run(Configs.parse(config(7)), null);
        assertEquals(Reports.toJson(a.report().withWallSeconds(0)), Reports.toJson(b.report().withWallSeconds(0)));
        Simulation.Result c = Simulation.run(Configs.parse(config(8)), null);
        assertNotEquals(a.report().curve(), c.report().curve());
    }

    @Test
    void clientsLearnAndExchangeTwoModelImagesEachWay() {
        Simulation.Result r = Simulation.run(Configs.parse(config(7)), null);
        SimReport rep = r.report();
        assertEquals("noloco", rep.strategy());
        assertEquals(r.pushed(), rep.updates(), "every exchange is counted");
        assertEquals(rep.updates(), r.version(), "the relay's version counts its exchanges");
        assertTrue(rep.updates() > 30, "exchanges " + rep.updates());
        long image = SimulationTest.modelBytes();
        assertEquals(2 * image * r.pushed(), rep.bytesUp(), "an offer is φ and δ");
        // A paired answer carries the peer's φ and δ; only exchanges before a second client's first find no
        // peer (the fastest client may exchange twice before the others' first).
        assertEquals(0, rep.bytesDown() % (2 * image));
        long unpaired = r.pushed() - rep.bytesDown() / (2 * image);
        assertTrue(unpaired >= 1 && unpaired <= 3, "unpaired exchanges " + unpaired);
        assertTrue(rep.finalAccuracy() > rep.curve().getFirst().accuracy() + 0.2, "no learning: " + rep.curve());
        assertTrue(rep.finalAccuracy() > 0.7, "final accuracy " + rep.finalAccuracy());
    }

    @Test
    void pairsMatchingIsDeterministicAnswersEveryOfferAndPairsThemAll() {
        Map<String, Object> pairs = Configs.with(config(7), "strategy", Map.of("name", "noloco", "inner_steps", 5,
                "inner_optimizer", Map.of("name", "sgd", "lr", 0.1), "matching", "pairs", "match_wait_seconds", 2));
        Simulation.Result a = Simulation.run(Configs.parse(pairs), null);
        Simulation.Result b = Simulation.run(Configs.parse(pairs), null);
        assertEquals(Reports.toJson(a.report().withWallSeconds(0)), Reports.toJson(b.report().withWallSeconds(0)));
        Simulation.Result latest = Simulation.run(Configs.parse(config(7)), null);
        assertNotEquals(latest.report().curve(), a.report().curve(), "pairs is not latest");
        SimReport rep = a.report();
        assertEquals(a.pushed(), rep.updates(), "every offer is answered, now or at its wait's end");
        assertTrue(rep.updates() > 30, "exchanges " + rep.updates());
        long image = SimulationTest.modelBytes();
        long unpaired = a.pushed() - rep.bytesDown() / (2 * image);
        // Only offers before a second client's first state find no peer; afterwards every answer carries one.
        assertTrue(unpaired >= 1 && unpaired <= 6, "unpaired exchanges " + unpaired);
        assertTrue(rep.finalAccuracy() > 0.7, "final accuracy " + rep.finalAccuracy());
    }

    /** A workload that remembers every model it scored and the accuracy it gave. */
    private static final class Recording implements Workload {
        private final Workload inner;
        final List<TensorMap> scored = new ArrayList<>();
        final List<Double> accuracies = new ArrayList<>();

        Recording(Workload inner) {
            this.inner = inner;
        }

        @Override
        public TensorMap initialModel() {
            return inner.initialModel();
        }

        @Override
        public TrainResult train(int client, TensorMap weights, long seed) {
            return inner.train(client, weights, seed);
        }

        @Override
        public Replica open(int client, TensorMap weights, InnerOptimizer optimizer, long seed) {
            return inner.open(client, weights, optimizer, seed);
        }

        @Override
        public double accuracy(TensorMap weights) {
            double a = inner.accuracy(weights);
            scored.add(weights);
            accuracies.add(a);
            return a;
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void theCurveIsTheMeanOfTheWorkersOwnAccuraciesAndTheAveragedModelIsReportedBeside(@TempDir Path dir)
            throws Exception {
        SimConfig cfg = Configs.parse(config(7));
        Recording w = new Recording(Workload.of(cfg));
        SimReport rep = Simulation.run(cfg, w, null).report();
        int clients = 6;
        assertEquals(rep.curve().size(), rep.replicas().size());
        // The last scoring: each of the 6 workers' own φ, then their element-wise mean.
        int n = w.scored.size();
        List<Double> own = w.accuracies.subList(n - 1 - clients, n - 1);
        double mean = own.stream().mapToDouble(Double::doubleValue).sum() / clients;
        SimReport.Replicas last = rep.replicas().getLast();
        assertEquals(mean, rep.finalAccuracy(), 1e-12);
        assertEquals(mean, last.mean(), 1e-12);
        assertEquals(own.stream().mapToDouble(Double::doubleValue).min().orElseThrow(), last.min(), 0);
        assertEquals(own.stream().mapToDouble(Double::doubleValue).max().orElseThrow(), last.max(), 0);
        assertEquals(w.accuracies.get(n - 1), last.averaged(), 0);
        List<TensorMap> models = w.scored.subList(n - 1 - clients, n - 1);
        Set<List<Float>> distinct = new HashSet<>();
        for (TensorMap m : models) {
            List<Float> flat = new ArrayList<>();
            for (String t : m.names()) {
                for (float x : m.tensor(t).toFloatArray()) {
                    flat.add(x);
                }
            }
            distinct.add(flat);
        }
        assertEquals(clients, distinct.size(), "each worker's own model, not one shared model");
        TensorMap averaged = w.scored.get(n - 1);
        for (String t : averaged.names()) {
            float[] got = averaged.tensor(t).toFloatArray();
            for (int k = 0; k < got.length; k++) {
                double sum = 0;
                for (TensorMap m : models) {
                    sum += m.tensor(t).toFloatArray()[k];
                }
                assertEquals(sum / clients, got[k], 1e-6, t + "[" + k + "]");
            }
        }
        for (SimReport.Replicas r : rep.replicas()) {
            assertTrue(r.min() <= r.mean() && r.mean() <= r.max(), r.toString());
        }
        Path json = dir.resolve("noloco.json");
        Reports.write(rep, json);
        assertEquals(rep, Reports.read(json), "replicas read back");
    }

    @Test
    void meanIsElementWise() {
        TensorMap a = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1f, 2f));
        TensorMap b = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 3f, 6f));
        TensorMap c = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, -1f, 1f));
        float[] m = NoLoCoClients.mean(List.of(a, b, c)).tensor("w").toFloatArray();
        assertEquals(1f, m[0]);
        assertEquals(3f, m[1]);
    }

    @Test
    void aConcurrencyLimitIsRefusedWithTheKey() {
        Map<String, Object> m = Configs.with(config(7), "participation", Map.of("concurrency", 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Simulation.run(Configs.parse(m), null));
        assertTrue(e.getMessage().startsWith("test.yaml: participation: noloco runs every client"), e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Simulation.run(
                Configs.parse(Configs.with(config(7), "strategy", Map.of("name", "noloco", "peer_pull", 3))), null));
        assertEquals("test.yaml: strategy: noloco.peer_pull: must be in [0, 1], got 3.0", bad.getMessage());
    }
}
