package dev.tributary.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorConfigTest {
    @TempDir
    Path dir;

    /** The shipped example lists every key at its default, so that it cannot drift from the code. */
    @Test
    void theExampleFileSetsEveryKeyAtItsDefault() throws IOException {
        Path example = Path.of("..", "examples", "serve.yaml");
        Map<String, Object> values = YamlSettings.read(example);
        assertEquals(new java.util.TreeSet<>(CoordinatorConfig.keys()), new java.util.TreeSet<>(values.keySet()),
                "every key, and only those");
        for (String strategy : java.util.List.of("fedasync", "fedbuff", "fedavg", "diloco", "noloco")) {
            assertEquals(CoordinatorConfig.defaults(strategy), CoordinatorConfig.fromYaml(strategy, example), strategy);
        }
    }

    @Test
    void readsEveryKeyOverTheDefaults() throws IOException {
        Path f = dir.resolve("c.yaml");
        Files.writeString(f, """
                strategy:
                  buffer_size: 4
                  max_staleness: 8
                checkpoint_every: 5
                lease_seconds: 2.5
                max_delta_norm: 10
                norm_policy: clip
                """);
        CoordinatorConfig c = CoordinatorConfig.fromYaml("fedbuff", f);
        assertEquals("fedbuff", c.strategy());
        assertEquals(Map.of("buffer_size", 4, "max_staleness", 8), c.strategyConfig());
        assertEquals(5, c.checkpointEvery());
        assertEquals(2500, c.lease().toMillis());
        assertEquals(10.0, c.maxDeltaNorm());
        assertEquals(CoordinatorConfig.NormPolicy.CLIP, c.normPolicy());
        assertEquals(CoordinatorConfig.defaults("x").keepCheckpoints(), c.keepCheckpoints());
    }

    @Test
    void refusesUnknownKeysAndBadValuesNamingThem() throws IOException {
        Path f = dir.resolve("c.yaml");
        Files.writeString(f, "checkpoint_evry: 5\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CoordinatorConfig.fromYaml("fedbuff", f))
                .getMessage().contains("unknown settings [checkpoint_evry]"));
        Files.writeString(f, "norm_policy: maybe\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CoordinatorConfig.fromYaml("fedbuff", f))
                .getMessage().contains("norm_policy \"maybe\""));
        Files.writeString(f, "checkpoint_every: 0\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> CoordinatorConfig.fromYaml("fedbuff", f))
                .getMessage().contains("checkpoint_every: must be at least 1"));
    }

    @Test
    void readsTheLimitsAndRefusesBadOnesNamingTheKeyAndTheRule() throws IOException {
        Path f = dir.resolve("c.yaml");
        Files.writeString(f, """
                memory_budget_bytes: 268435456
                push_idle_timeout_seconds: 2.5
                push_timeout_seconds: 90
                push_min_bytes_per_second: 1000
                max_push_streams_per_token: 8
                max_push_streams_per_worker: 1
                token_memory_share: 0.5
                worker_memory_share: 0.25
                max_workers: 100
                """);
        ServiceLimits l = CoordinatorConfig.fromYaml("fedbuff", f).limits();
        assertEquals(new ServiceLimits(268435456, Duration.ofMillis(2500), Duration.ofSeconds(90), 1000, 8, 1, 0.5, 0.25,
                100), l);
        assertEquals(ServiceLimits.DEFAULTS, CoordinatorConfig.defaults("fedbuff").limits());
        assertEquals(Duration.ofSeconds(90 + 3), l.pushDeadline(3000));
        for (String[] bad : new String[][] {
            {"push_idle_timeout_seconds: -1", "push_idle_timeout_seconds: must be > 0 (and at most 1e9), got -1"},
            {"push_timeout_seconds: 0", "push_timeout_seconds: must be > 0 (and at most 1e9), got 0"},
            {"memory_budget_bytes: -5", "memory_budget_bytes: must be ≥ 0 (0 for the default), got -5"},
            {"memory_budget_bytes: 1.5", "memory_budget_bytes: must be a whole number, got 1.5"},
            {"push_min_bytes_per_second: 0", "push_min_bytes_per_second: must be > 0, got 0"},
            {"max_push_streams_per_token: 0", "max_push_streams_per_token: must be at least 1, got 0"},
            {"max_push_streams_per_worker: 3000000000", "max_push_streams_per_worker: must be at most 2147483647"},
            {"token_memory_share: 1.5", "token_memory_share: must be in (0, 1], got 1.5"},
            {"worker_memory_share: 0", "worker_memory_share: must be in (0, 1], got 0.0"},
            {"max_workers: -3", "max_workers: must be at least 1, got -3"},
            {"max_workers: lots", "max_workers: must be a number, got \"lots\""},
        }) {
            Files.writeString(f, bad[0] + "\n");
            String m = assertThrows(IllegalArgumentException.class, () -> CoordinatorConfig.fromYaml("fedbuff", f)).getMessage();
            assertTrue(m.contains(bad[1]), m);
        }
    }
}
