package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.train.data.FashionMnist;
import java.nio.file.Path;
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
}
