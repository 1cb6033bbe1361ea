package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.train.data.FashionMnist;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** A short Fashion-MNIST run through DJL: skipped where the data set is not installed. */
class FashionSimulationTest {

    @Test
    void aFewClientsLearnFashionMnist() {
        Assumptions.assumeTrue(FashionMnist.available(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST not installed in " + FashionMnist.DEFAULT_DIR + " (Debian: dataset-fashion-mnist); skipped");
        Map<String, Object> m = Map.of(
                "task", "fmnist-mlp",
                "clients", 4,
                "partition", Map.of("kind", "dirichlet", "alpha", 0.3, "seed", 0),
                "speeds", Map.of("distribution", "lognormal", "spread", 4, "median", 320),
                "strategy", Map.of("name", "fedbuff", "buffer_size", 2),
                "local", Map.of("steps", 10, "batch", 32),
                "budget", Map.of("virtual_seconds", 20),
                "target", 0.6,
                "eval_every", 5);
        SimConfig c = SimConfig.parse(m, Path.of("."), "fmnist-smoke.yaml");
        Simulation.Result r = Simulation.run(c, null);
        SimReport rep = r.report();
        assertEquals(5, rep.curve().size());
        assertTrue(rep.curve().getFirst().accuracy() < 0.3, "an untrained model scores near chance");
        assertTrue(rep.finalAccuracy() > 0.6, "final accuracy " + rep.finalAccuracy());
        assertTrue(rep.timeToTarget().virtualSeconds() != null);
        assertTrue(rep.updates() >= 20, "updates " + rep.updates());
        assertTrue(r.refused().isEmpty(), "refused " + r.refused());
    }

    @Test
    void diLoCoClientsTrainTheirReplicasWithAdamW() {
        Assumptions.assumeTrue(FashionMnist.available(FashionMnist.DEFAULT_DIR), "Fashion-MNIST not installed; skipped");
        Map<String, Object> m = Map.of(
                "task", "fmnist-mlp",
                "clients", 3,
                "partition", Map.of("kind", "dirichlet", "alpha", 0.3, "seed", 0),
                "speeds", Map.of("distribution", "constant", "median", 320),
                "strategy", Map.of("name", "diloco", "inner_steps", 20, "fragments", 2,
                        "inner_optimizer", Map.of("name", "adamw", "lr", 1e-3)),
                "budget", Map.of("virtual_seconds", 100, "versions", 8),
                "eval_every", 5);
        Simulation.Result r = Simulation.run(SimConfig.parse(m, Path.of("."), "fmnist-diloco-smoke.yaml"), null);
        assertEquals(8, r.version());
        assertEquals(24, r.report().updates());
        assertTrue(r.refused().isEmpty(), "refused " + r.refused());
        assertTrue(r.report().finalAccuracy() > 0.6, "final accuracy " + r.report().finalAccuracy());
    }

    @Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "tributary.long", matches = "true")
    void clientsTrainingOnSeveralThreadsGiveTheSameReportAsOne() {
        Assumptions.assumeTrue(FashionMnist.available(FashionMnist.DEFAULT_DIR), "Fashion-MNIST not installed; skipped");
        for (String strategy : List.of("fedbuff")) {
            String[] reports = new String[2];
            for (int threads : new int[] {1, 3}) {
                Map<String, Object> m = Map.of(
                        "task", "fmnist-mlp",
                        "clients", 4,
                        "partition", Map.of("kind", "dirichlet", "alpha", 0.3, "seed", 0),
                        "speeds", Map.of("distribution", "lognormal", "spread", 4, "median", 320),
                        "strategy", Map.of("name", strategy, "initial_buffer_size", 2),
                        "local", Map.of("steps", 7, "batch", 32),
                        "network", Map.of("bandwidth_mbps", 100, "latency_ms", 5),
                        "budget", Map.of("virtual_seconds", 6),
                        "eval_every", 3,
                        "threads", threads);
                Simulation.Result r = Simulation.run(SimConfig.parse(m, Path.of("."), "fmnist-threads.yaml"), null);
                assertTrue(r.report().updates() >= 8, strategy + ": updates " + r.report().updates());
                reports[threads == 1 ? 0 : 1] = Reports.toJson(r.report().withWallSeconds(0));
            }
            assertEquals(reports[0], reports[1], strategy);
        }
    }
}
