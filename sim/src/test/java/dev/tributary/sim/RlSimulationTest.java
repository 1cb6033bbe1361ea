package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/** The actor-learner workload on the virtual clock: determinism, sync rounds, async staleness. */
class RlSimulationTest {
    /** The examples folder at the root of the repository (tests run in the module's folder). */
    private static final Path EXAMPLES = Path.of("..", "examples");

    @TempDir
    Path dir;

    /** A short CartPole run: 3 actors of 2 environments, items of 16 steps, a 10× speed spread. */
    static Map<String, Object> small(String mode, long envSteps) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("env", "CartPole-v1");
        m.put("mode", mode);
        m.put("actors", 3);
        m.put("envs_per_actor", 2);
        m.put("seed", 7);
        m.put("speeds", Map.of("distribution", "lognormal", "spread", 10, "median", 100));
        m.put("learner", Map.of("steps_per_item", 16, "batch_items", 3, "max_lag", 8, "hidden", List.of(16, 16)));
        m.put("budget", Map.of("env_steps", envSteps));
        m.put("target", 475);
        return m;
    }

    static RlSimConfig config(Map<String, Object> m) {
        return RlSimConfig.parse(m, "test.yaml");
    }

    @Test
    void aSeedGivesTheSameReportTwice() throws Exception {
        RlSimConfig c = config(small("async", 960));
        List<RlSimulation.Progress> seen = new java.util.ArrayList<>();
        RlReport a = RlSimulation.run(c, seen::add).report().withWallSeconds(0);
        RlReport b = RlSimulation.run(c, null).report().withWallSeconds(0);
        assertEquals(30, seen.size(), "one progress report per pushed item");
        for (int i = 1; i < seen.size(); i++) {
            assertTrue(seen.get(i).virtualSeconds() >= seen.get(i - 1).virtualSeconds());
            assertEquals(seen.get(i - 1).envSteps() + 32, seen.get(i).envSteps());
        }
        assertEquals(Reports.toJson(a), Reports.toJson(b));
        assertEquals(a, b);
        assertEquals(10, a.versions(), "3 items per training step");
        assertEquals(960, a.envSteps(), "16 steps × 2 environments per item, 30 items");
        RlReport other = RlSimulation.run(config(small("async", 480)).withSeed(8), null).report().withWallSeconds(0);
        assertFalse(a.curve().subList(0, 6).equals(other.curve().subList(0, 6)), "another seed gives another run");
        Path json = dir.resolve("r.json");
        Reports.write(a, json);
        assertTrue(RlReports.isRl(json));
        assertEquals(a, RlReports.read(json));
        assertTrue(Files.readString(json).contains("\"time_to_target\" : {"), Files.readString(json));
    }

    @Test
    void syncTrainsOnOneItemOfEveryActorAllOfOneVersion() {
        RlSimulation.Result r = RlSimulation.run(config(small("sync", 960)), null);
        assertEquals(10, r.batches().size(), "960 steps / (3 actors × 32 steps)");
        for (RlSimulation.Batch b : r.batches()) {
            Set<Integer> actors = new HashSet<>();
            for (RlSimulation.TrainedItem it : b.items()) {
                actors.add(it.actor());
                assertEquals(b.version(), it.behaviourVersion(), "acted with the version trained under: " + b);
            }
            assertEquals(Set.of(0, 1, 2), actors, "one item of each actor: " + b);
            assertEquals(3, b.items().size());
        }
        assertEquals(0, r.report().staleness().max());
        assertEquals(List.of(10L, 10L, 10L), r.report().itemsByActor());
        // Each round lasts as long as its slowest actor: 32 steps at the slowest speed, 10 rounds.
        double slowest = r.report().actorSpeeds().stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        assertEquals(10 * 32 / slowest, r.report().virtualSeconds(), 1e-9);
    }

    @Test
    void asyncWithASpeedSpreadTrainsOnStaleExperienceFromFastActorsMore() {
        RlSimulation.Result r = RlSimulation.run(config(small("async", 960)), null);
        RlReport rep = r.report();
        assertTrue(rep.staleness().mean() > 0, "staleness " + rep.staleness());
        assertTrue(rep.staleness().max() >= 1, "staleness " + rep.staleness());
        List<Double> speeds = rep.actorSpeeds();
        int fast = speeds.indexOf(speeds.stream().max(Double::compare).orElseThrow());
        int slow = speeds.indexOf(speeds.stream().min(Double::compare).orElseThrow());
        assertEquals(10, speeds.get(fast) / speeds.get(slow), 1e-9, "spread");
        assertTrue(rep.itemsByActor().get(fast) > 3 * rep.itemsByActor().get(slow), rep.itemsByActor().toString());
        long stale = r.batches().stream().flatMap(b -> b.items().stream().map(it -> b.version() - it.behaviourVersion()))
                .filter(t -> t > 0).count();
        assertTrue(stale > 0);
        assertEquals(rep.stalenessCounts().stream().mapToLong(Long::longValue).sum(),
                r.batches().stream().mapToLong(b -> b.items().size()).sum());
        // The same actors in sync mode take far longer in virtual time for the same steps.
        RlReport sync = RlSimulation.run(config(small("sync", 960)), null).report();
        assertTrue(rep.virtualSeconds() < 0.6 * sync.virtualSeconds(), rep.virtualSeconds() + " vs " + sync.virtualSeconds());
    }

    @Test
    void aTightMaxLagRefusesOrDropsStaleItemsAndCountsThem() {
        Map<String, Object> m = small("async", 960);
        m.put("learner", Map.of("steps_per_item", 16, "batch_items", 1, "max_lag", 0, "hidden", List.of(16, 16),
                "minibatches", 2));
        RlReport rep = RlSimulation.run(config(m), null).report();
        long lost = rep.refused().getOrDefault("lag", 0L) + rep.dropped();
        assertTrue(lost > 0, "refused " + rep.refused() + ", dropped " + rep.dropped());
        assertEquals(0, rep.staleness().max(), "nothing beyond max_lag 0 was trained on");
    }

    @Test
    void theExamplesParseAndDifferOnlyInTheirMode() throws Exception {
        RlSimConfig async = RlSimConfig.load(EXAMPLES.resolve("cartpole-async.yaml"));
        RlSimConfig sync = RlSimConfig.load(EXAMPLES.resolve("cartpole-sync.yaml"));
        assertTrue(RlSimConfig.describesRl(EXAMPLES.resolve("cartpole-async.yaml")));
        assertFalse(RlSimConfig.describesRl(EXAMPLES.resolve("fmnist-async.yaml")));
        assertEquals("async", async.mode());
        assertEquals("sync", sync.mode());
        assertEquals(8, async.actors());
        assertEquals(10, async.speeds().spread());
        assertEquals(475, async.target());
        RlSimConfig same = async.withMode("sync");
        assertEquals(same.learner().toString().replaceAll("hidden=[^,]*", ""),
                sync.learner().toString().replaceAll("hidden=[^,]*", ""));
        assertEquals(List.of(same.env(), same.actors(), same.envsPerActor(), same.seed(), same.speeds(), same.network(),
                same.envStepsBudget(), same.virtualSeconds(), same.target()),
                List.of(sync.env(), sync.actors(), sync.envsPerActor(), sync.seed(), sync.speeds(), sync.network(),
                        sync.envStepsBudget(), sync.virtualSeconds(), sync.target()));
        assertTrue(java.util.Arrays.equals(same.learner().optimization().hidden(), sync.learner().optimization().hidden()));
    }

    /** The example's 8 asynchronous actors with a 10× speed spread solve CartPole-v1 within 500k steps. */
    @Test
    @EnabledIfSystemProperty(named = "tributary.long", matches = "true")
    void theAsyncExampleSolvesCartPole() throws Exception {
        Path example = dir.resolve("cartpole-async.yaml");
        Files.writeString(example, Files.readString(EXAMPLES.resolve("cartpole-async.yaml")) + "stop_at_target: true\n");
        RlReport r = RlSimulation.run(RlSimConfig.load(example), null).report();
        assertNotNull(r.timeToTarget().envSteps(), "mean return " + r.finalReturn() + " after " + r.envSteps());
        assertTrue(r.timeToTarget().envSteps() <= 500_000, r.timeToTarget().toString());
    }
}
