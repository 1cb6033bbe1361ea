package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Actor-learner configurations: defaults, and one-line errors that name the key and the value. */
class RlSimConfigTest {
    @TempDir
    Path dir;

    private static Map<String, Object> with(String key, Object value) {
        Map<String, Object> m = RlSimulationTest.small("async", 1000);
        if (value == null) {
            m.remove(key);
        } else {
            m.put(key, value);
        }
        return m;
    }

    private static String error(Map<String, Object> m) {
        String msg = assertThrows(IllegalArgumentException.class, () -> RlSimConfig.parse(m, "test.yaml")).getMessage();
        assertFalse(msg.contains("\n"), "one line: " + msg);
        assertTrue(msg.startsWith("test.yaml: "), "names the file: " + msg);
        return msg;
    }

    @Test
    void defaultsFollowTheRunAndTheBudget() {
        RlSimConfig c = RlSimulationTest.config(RlSimulationTest.small("async", 1000));
        assertEquals(1000, c.learner().optimization().totalSteps(), "the schedule spans the budget");
        assertEquals(7, c.learner().optimization().seed(), "the learner's seed is the run's");
        assertEquals(3, c.learner().batchItems());
        assertEquals(16, c.learner().stepsPerItem());
        assertEquals("ppo", c.learner().algo());
        RlSimConfig sync = RlSimulationTest.config(with("learner", Map.of("steps_per_item", 16, "hidden", List.of(16))));
        assertEquals(2, sync.learner().batchItems(), "tributary learn's default under async");
        Map<String, Object> s = with("mode", "sync");
        s.put("learner", Map.of("steps_per_item", 16));
        assertEquals(3, RlSimulationTest.config(s).learner().batchItems(), "sync: one item per actor");
        assertEquals(11, c.withSeed(11).learner().optimization().seed());
    }

    @Test
    void badKeysAndValuesAreOneLineErrorsNamingThem() {
        assertEquals("test.yaml: mode: must be async or sync, got \"lockstep\"", error(with("mode", "lockstep")));
        assertEquals("test.yaml: env: must be one of CartPole-v1, Acrobot-v1, Pendulum-v1, got \"MountainCar-v0\"",
                error(with("env", "MountainCar-v0")));
        assertEquals("test.yaml: actors: is required", error(with("actors", null)));
        assertEquals("test.yaml: actors: must be >= 1, got 0", error(with("actors", 0)));
        assertTrue(error(with("actres", 3)).startsWith("test.yaml: unknown key \"actres\""));
        assertEquals("test.yaml: speeds.spread: is fastest / slowest and must be >= 1, got 0.5",
                error(with("speeds", Map.of("spread", 0.5))));
        assertEquals("test.yaml: budget.env_steps: give env_steps or virtual_seconds (> 0), so that every run ends",
                error(with("budget", Map.of())));
        assertEquals("test.yaml: budget.env_steps: must be a whole number, got lots",
                error(with("budget", Map.of("env_steps", "lots"))));
        assertEquals("test.yaml: stop_at_target: needs a target", error(withBoth("stop_at_target", true, "target")));
        assertTrue(error(with("learner", Map.of("algo", "dqn"))).startsWith("test.yaml: learner: algo: must be one of ppo, impala, got \"dqn\""));
        String unknown = error(with("learner", Map.of("batch_itmes", 3)));
        assertTrue(unknown.startsWith("test.yaml: learner: unknown settings [batch_itmes]"), unknown);
        assertEquals("test.yaml: learner: max_lag: must be at least 0, got -1",
                error(with("learner", Map.of("steps_per_item", 16, "max_lag", -1))));
        Map<String, Object> sync = with("mode", "sync");
        sync.put("learner", Map.of("steps_per_item", 16, "batch_items", 2));
        assertEquals("test.yaml: learner: batch_items: sync mode trains on one item of every actor, so it is 3 (actors),"
                + " got 2", error(sync));
    }

    private static Map<String, Object> withBoth(String key, Object value, String removed) {
        Map<String, Object> m = with(key, value);
        m.remove(removed);
        return m;
    }

    @Test
    void aFileThatIsNotYamlIsOneLineNamingIt() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "env: [CartPole-v1\n  actors: 3\n");
        String msg = assertThrows(IllegalArgumentException.class, () -> RlSimConfig.load(f)).getMessage();
        assertTrue(msg.startsWith(f + ": not valid YAML"), msg);
        assertFalse(msg.contains("\n"), msg);
        Path ok = dir.resolve("ok.yaml");
        Files.writeString(ok, "env: CartPole-v1\nactors: 2\nbudget: {env_steps: 100}\n");
        assertTrue(RlSimConfig.describesRl(ok));
        assertEquals(2, RlSimConfig.load(ok).actors());
    }

    @Test
    void changingTheModeKeepsEveryOtherSetting() {
        RlSimConfig c = RlSimulationTest.config(new LinkedHashMap<>(RlSimulationTest.small("async", 1000)));
        RlSimConfig s = c.withMode("sync");
        assertEquals(3, s.learner().batchItems());
        assertEquals(c.learner().maxLag(), s.learner().maxLag());
        assertEquals(c.learner().stepsPerItem(), s.learner().stepsPerItem());
        assertTrue(s.sync());
    }
}
