package dev.tributary.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WireSettingsTest {
    @TempDir
    Path dir;

    CoordinatorConfig read(String yaml) throws IOException {
        Path f = dir.resolve("c.yaml");
        Files.writeString(f, yaml);
        return CoordinatorConfig.fromYaml("fedasync", f);
    }

    @Test
    void readsTheWireKeysOverTheDefaults() throws IOException {
        assertEquals(WireSettings.DEFAULTS, read("checkpoint_every: 3\n").wire());
        assertEquals(Set.copyOf(Codec.names()), WireSettings.DEFAULTS.codecs());
        WireSettings w = read("codecs: [int8, topk]\npull_delta_versions: 2\npull_delta_max_bytes: 1000000\n").wire();
        assertEquals(Set.of("int8", "topk"), w.codecs());
        assertEquals(2, w.pullDeltaVersions());
        assertEquals(1_000_000, w.pullDeltaMaxBytes());
        assertTrue(w.accepts(Codec.parse("topk:fraction=0.1+int8")));
        assertFalse(w.accepts(Codec.parse("topk:fraction=0.1+int4")), "int4 is not in the list");
        assertFalse(w.accepts(Codec.parse("f16")));
        assertEquals(Set.of(), read("codecs: []\n").wire().codecs());
        WireSettings ef21 = read("ef21_max_workers: 3\nef21_max_bytes: 4096\n").wire();
        assertEquals(3, ef21.ef21MaxWorkers());
        assertEquals(4096, ef21.ef21MaxBytes());
        assertEquals(1024, WireSettings.DEFAULTS.ef21MaxWorkers());
    }

    @Test
    void refusesBadWireValuesNamingThem() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> read("codecs: [int8, zip]\n"));
        assertTrue(e.getMessage().contains("codecs: unknown codec \"zip\""), e.getMessage());
        assertTrue(e.getMessage().startsWith(dir.resolve("c.yaml").toString()), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> read("pull_delta_versions: 65\n"));
        assertTrue(e.getMessage().contains("pull_delta_versions: must be in [0, 64], got 65"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> read("pull_delta_max_bytes: -1\n"));
        assertTrue(e.getMessage().contains("pull_delta_max_bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> read("ef21_max_workers: 0\n"));
        assertTrue(e.getMessage().contains("ef21_max_workers: must be in [1, 1000000], got 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> read("ef21_max_bytes: -5\n"));
        assertTrue(e.getMessage().contains("ef21_max_bytes: must be ≥ 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> read("codecs: 7\n"));
        assertTrue(e.getMessage().contains("codecs: must be a list"), e.getMessage());
    }
}
