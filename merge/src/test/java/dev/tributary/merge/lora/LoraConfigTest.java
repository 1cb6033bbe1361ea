package dev.tributary.merge.lora;

import dev.tributary.merge.MergeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** adapter_config.json parsing and PEFT's matching rules. */
class LoraConfigTest {

    private static LoraConfig config(Path tmp, String json) throws IOException {
        Path f = tmp.resolve("adapter_config.json");
        Files.writeString(f, json);
        return LoraConfig.read(f);
    }

    @Test
    void listTargetsMatchWholeNamesOrDottedSuffixes() {
        LoraConfig c = new LoraConfig(8, 16, false, false, List.of("q_proj", "mlp.fc"), null, Map.of(), Map.of(), null);
        assertTrue(c.targets("model.layers.0.self_attn.q_proj"));
        assertTrue(c.targets("q_proj"));
        assertTrue(c.targets("model.layers.3.mlp.fc"));
        assertFalse(c.targets("model.layers.0.self_attn.xq_proj"), "suffix must start at a dot");
        assertFalse(c.targets("model.layers.0.mlp.fc2"));
    }

    @Test
    void stringTargetsAreFullMatchRegexes() {
        LoraConfig c = new LoraConfig(8, 16, false, false, null, ".*layers\\.[01]\\..*proj", Map.of(), Map.of(), null);
        assertTrue(c.targets("model.layers.1.self_attn.v_proj"));
        assertFalse(c.targets("model.layers.2.self_attn.v_proj"));
        assertFalse(c.targets("model.layers.1.self_attn.v_proj.extra"), "must match the whole name");
        LoraConfig all = new LoraConfig(8, 16, false, false, null, "all-linear", Map.of(), Map.of(), null);
        assertTrue(all.targets("anything.at.all"));
    }

    @Test
    void patternsPickRankAndAlphaPerModule() {
        LoraConfig c = new LoraConfig(8, 16, false, false, null, null,
                Map.of("v_proj", 4, "model.layers.1.self_attn.q_proj", 2), Map.of("layers\\.[0-9]+\\.mlp\\.fc", 3.0),
                null);
        assertEquals(4, c.rank("model.layers.0.self_attn.v_proj"));
        assertEquals(2, c.rank("model.layers.1.self_attn.q_proj"));
        assertEquals(8, c.rank("model.layers.0.self_attn.q_proj"));
        assertEquals(8, c.rank("model.layers.0.self_attn.xv_proj"), "a pattern key matches after a dot only");
        assertEquals(3.0, c.alpha("model.layers.12.mlp.fc"));
        assertEquals(16.0, c.alpha("model.layers.12.mlp.fc2"));
        assertEquals(3.0 / 8, c.scale("model.layers.12.mlp.fc"));
        assertEquals(16.0 / 4, c.scale("model.layers.0.self_attn.v_proj"));
    }

    @Test
    void rsLoraScalesByTheSquareRootOfTheRank() {
        LoraConfig c = new LoraConfig(16, 8, true, false, null, null, Map.of(), Map.of(), null);
        assertEquals(8 / 4.0, c.scale("x"), 1e-15);
    }

    @Test
    void readsPeftFiles(@TempDir Path tmp) throws IOException {
        LoraConfig c = config(tmp, """
                {"peft_type": "LORA", "r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"],
                 "use_rslora": true, "fan_in_fan_out": true, "rank_pattern": {"v_proj": 8},
                 "alpha_pattern": {}, "task_type": "CAUSAL_LM", "lora_dropout": 0.05, "bias": "none"}""");
        assertEquals(16, c.r());
        assertEquals(32.0, c.loraAlpha());
        assertTrue(c.useRslora());
        assertTrue(c.fanInFanOut());
        assertEquals(List.of("q_proj", "v_proj"), c.targetList());
        assertEquals(8, c.rank("m.v_proj"));
        assertNull(c.baseModel());
    }

    @Test
    void refusesWhatItCannotApply(@TempDir Path tmp) {
        MergeException e = assertThrows(MergeException.class, () -> config(tmp, "{\"peft_type\": \"IA3\", \"r\": 8}"));
        assertTrue(e.getMessage().contains("peft_type"), e.getMessage());
        e = assertThrows(MergeException.class, () -> config(tmp, "{\"r\": 0}"));
        assertTrue(e.getMessage().contains("r:"), e.getMessage());
        e = assertThrows(MergeException.class, () -> config(tmp, "{\"r\": 4, \"rank_pattern\": {\"q\": \"x\"}}"));
        assertTrue(e.getMessage().contains("rank_pattern.q"), e.getMessage());
        e = assertThrows(MergeException.class, () -> config(tmp, "{\"r\": 4, \"target_modules\": \"(\"}"));
        assertTrue(e.getMessage().contains("target_modules"), e.getMessage());
        e = assertThrows(MergeException.class, () -> config(tmp, "{\"r\": 4,"));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }
}
