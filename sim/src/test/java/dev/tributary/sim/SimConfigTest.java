package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimConfigTest {
    /** The examples folder at the root of the repository (tests run in the module's folder). */
    static final Path EXAMPLES = Path.of("..", "examples");

    private static String error(Map<String, Object> m) {
        return assertThrows(IllegalArgumentException.class, () -> Configs.parse(m)).getMessage();
    }

    @Test
    void unknownKeysAreErrorsNamingTheKeyAndTheFile() {
        Map<String, Object> m = Configs.synthetic(2, Map.of("name", "fedavg"), 10);
        String top = error(Configs.with(m, "clinets", 3));
        assertTrue(top.startsWith("test.yaml: unknown key \"clinets\""), top);
        assertTrue(top.contains("clients"), "the known keys are listed: " + top);
        String nested = error(Configs.with(m, "speeds.sprad", 3));
        assertTrue(nested.startsWith("test.yaml: unknown key \"speeds.sprad\""), nested);
    }

    @Test
    void badValuesNameTheKeyAndTheRule() {
        Map<String, Object> m = Configs.synthetic(2, Map.of("name", "fedavg"), 10);
        assertEquals("test.yaml: speeds.spread: is fastest / slowest and must be >= 1, got 0.5",
                error(Configs.with(m, "speeds.spread", 0.5)));
        assertEquals("test.yaml: budget.virtual_seconds: is required, so that every run ends",
                error(Configs.with(m, "budget", Map.of("updates", 10))));
        assertTrue(error(Configs.with(m, "partition", Map.of("kind", "iid"))).startsWith("test.yaml: partition: only fmnist"));
        assertTrue(error(Configs.with(m, "local.lr", 0.1)).startsWith("test.yaml: local.lr: only fmnist tasks"));
        assertTrue(error(Configs.with(m, "clients", "many")).startsWith("test.yaml: clients: must be a whole number"));
        assertTrue(error(Configs.with(m, "target", 85)).startsWith("test.yaml: target: must be an accuracy"));
    }

    @Test
    void strategySettingsAreCheckedByTheStrategyWithTheFileNamed() {
        Map<String, Object> m = Configs.synthetic(2, Map.of("name", "fedbuff", "bufer_size", 3), 10);
        SimConfig c = Configs.parse(m);
        String e = assertThrows(IllegalArgumentException.class, () -> Simulation.run(c, null)).getMessage();
        assertTrue(e.startsWith("test.yaml: strategy: ") && e.contains("bufer_size"), e);
    }

    @Test
    void relativePathsStartAtTheConfigsFolder(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("sub/run.yaml");
        Files.createDirectories(file.getParent());
        Files.writeString(file, """
                task: fmnist-mlp
                data: ../fashion
                clients: 3
                strategy: {name: fedavg}
                budget: {virtual_seconds: 10}
                """);
        SimConfig c = SimConfig.load(file);
        assertEquals(dir.resolve("fashion").toAbsolutePath().normalize(), c.data());
        assertEquals("dirichlet", c.partition().kind());
        assertNull(c.partition().seed(), "the split follows the run's seed");
        assertEquals(5, c.partition().seedFor(5));
        assertEquals(0.1, c.evalEvery(), 1e-12, "evaluations default to 1/100 of the budget");
        assertTrue(Double.isNaN(c.target()));
    }

    @Test
    void theExamplesDifferOnlyInTheirStrategy() throws Exception {
        SimConfig sync = SimConfig.load(EXAMPLES.resolve("fmnist-sync.yaml"));
        SimConfig async = SimConfig.load(EXAMPLES.resolve("fmnist-async.yaml"));
        assertEquals("fedavg", sync.strategy());
        assertTrue(async.strategy().equals("fedbuff") || async.strategy().equals("fedasync"), async.strategy());
        assertEquals(20, sync.clients());
        assertEquals(0.3, sync.partition().alpha());
        assertEquals(10, sync.speeds().spread());
        assertEquals(0.85, sync.target());
        SimConfig asyncWithSyncStrategy = new SimConfig(sync.source(), async.task(), async.data(), async.clients(),
                async.seed(), async.partition(), async.speeds(), async.network(), async.churn(), async.concurrency(), sync.strategy(),
                sync.strategyConfig(), async.validation(), async.local(), async.budget(), async.target(),
                async.evalEvery(), async.tickEvery(), async.threads(), async.codecs());
        assertEquals(sync, asyncWithSyncStrategy);
    }
}
