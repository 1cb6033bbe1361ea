package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SimulationTest {

    @Test
    void sameConfigAndSeedGiveTheSameReport() {
        SimConfig c = Configs.parse(Configs.synthetic(6, Map.of("name", "fedbuff", "buffer_size", 3), 200));
        Simulation.Result a = Simulation.run(c, null);
        Simulation.Result b = Simulation.run(c, null);
        System.out.println(Reports.toJson(a.report()));
        assertEquals(a.report().withWallSeconds(0), b.report().withWallSeconds(0));
        assertEquals(a.refused(), b.refused());
        assertTrue(a.report().updates() > 10, "updates " + a.report().updates());
        Simulation.Result other = Simulation.run(c.withSeed(8), null);
        assertNotEquals(a.report().curve(), other.report().curve());
    }
}
