package dev.tributary.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorConfigTest {
    @TempDir
    Path dir;

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
}
