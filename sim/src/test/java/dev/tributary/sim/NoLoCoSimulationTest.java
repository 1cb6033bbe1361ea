package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

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
