package dev.tributary.merge.lora;

import dev.tributary.merge.Fixtures;
import dev.tributary.merge.MergeException;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LoRA extraction: reconstruction at full rank, energies against PyTorch's SVD, the PEFT files. */
class LoraExtractTest {
    private static final Path LORA = Fixtures.root().resolve("lora");
    private static final Path BASE = LORA.resolve("extract_base.safetensors");
    private static final Path TUNED = LORA.resolve("extract_tuned.safetensors");

    @Test
    void fullRankReproducesEveryTwoDimensionalDelta(@TempDir Path tmp) {
        LoraExtract.Result r = LoraExtract.run(BASE, TUNED, 16, tmp.resolve("adapter"), ProgressListener.NONE);
        Map<String, LoraExtract.Extracted> byName = new HashMap<>();
        r.changed().forEach(e -> byName.put(e.tensor(), e));
        assertEquals(5, r.changed().size(), "four weights and one bias changed");
        assertEquals(2, byName.get("model.layers.0.self_attn.q_proj.weight").rank());
        assertEquals(6, byName.get("model.layers.0.mlp.fc.weight").rank());
        assertEquals(3, byName.get("model.embed_tokens.weight").rank());
        assertEquals(LoraExtract.Kind.EMBEDDING, byName.get("model.embed_tokens.weight").kind());
        assertEquals(LoraExtract.Kind.NOT_LOW_RANK, byName.get("model.layers.0.mlp.fc.bias").kind());
        for (LoraExtract.Extracted e : r.changed()) {
            if (e.kind() != LoraExtract.Kind.NOT_LOW_RANK) {
                assertEquals(1.0, e.energy(), 1e-9, e.tensor());
            }
        }
        Path merged = tmp.resolve("merged.safetensors");
        LoraMerge.run(BASE, tmp.resolve("adapter"), merged, false, ProgressListener.NONE);
        TensorMap tuned = Safetensors.readAll(TUNED);
        TensorMap result = Safetensors.readAll(merged);
        TensorMap base = Safetensors.readAll(BASE);
        for (String name : tuned.names()) {
            float[] want = (name.endsWith(".bias") ? base : tuned).get(name).toFloatArray();
            float[] got = result.get(name).toFloatArray();
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-4, name + "[" + i + "]");
            }
        }
    }

    @Test
    void energyFractionsMatchPyTorchSingularValues(@TempDir Path tmp) throws IOException {
        String json = Files.readString(LORA.resolve("extract_energy.json"));
        for (int rank = 1; rank <= 3; rank++) {
            LoraExtract.Result r = LoraExtract.run(BASE, TUNED, rank, tmp.resolve("r" + rank), ProgressListener.NONE);
            int checked = 0;
            for (LoraExtract.Extracted e : r.changed()) {
                if (e.kind() == LoraExtract.Kind.NOT_LOW_RANK) {
                    continue;
                }
                Matcher m = Pattern.compile("\"" + Pattern.quote(e.tensor()) + "\": \\{[^}]*\"" + e.rank()
                        + "\": ([0-9.eE+-]+)").matcher(json);
                assertTrue(m.find(), e.tensor() + " rank " + e.rank() + " missing from the fixture");
                assertEquals(Double.parseDouble(m.group(1)), e.energy(), 1e-6, e.tensor() + " at rank " + rank);
                assertTrue(e.rank() <= rank);
                checked++;
            }
            assertEquals(4, checked);
        }
    }

    @Test
    void writesAConfigPeftAndLoraMergeAccept(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("adapter");
        LoraExtract.run(BASE, TUNED, 4, dir, ProgressListener.NONE);
        LoraConfig c = LoraConfig.read(dir.resolve("adapter_config.json"));
        assertEquals(4, c.r());
        assertEquals(4.0, c.loraAlpha());
        assertEquals(List.of("model.embed_tokens", "model.layers.0.mlp.fc", "model.layers.0.self_attn.q_proj",
                "model.layers.0.self_attn.v_proj"), c.targetList(), "modules in the base's file order");
        assertEquals(2, c.rank("model.layers.0.self_attn.q_proj"), "rank below R goes to rank_pattern");
        assertEquals(3, c.rank("model.embed_tokens"));
        assertEquals(4, c.rank("model.layers.0.mlp.fc"));
        assertEquals(1.0, c.scale("model.layers.0.self_attn.q_proj"));
        assertEquals(1.0, c.scale("model.layers.0.mlp.fc"));
        String json = Files.readString(dir.resolve("adapter_config.json"));
        assertTrue(json.contains("\"peft_type\" : \"LORA\""), json);
        TensorMap adapter = Safetensors.readAll(dir.resolve("adapter_model.safetensors"));
        assertEquals(8, adapter.size());
        assertEquals(List.of(3L, 10L), List.of(adapter.get("base_model.model.model.embed_tokens.lora_embedding_A")
                .shape()[0], adapter.get("base_model.model.model.embed_tokens.lora_embedding_A").shape()[1]));
        long[] b = adapter.get("base_model.model.model.layers.0.mlp.fc.lora_B.weight").shape();
        assertEquals(8, b[0]);
        assertEquals(4, b[1]);
    }

    @Test
    void refusesModelsThatDoNotDiffer(@TempDir Path tmp) {
        MergeException e = assertThrows(MergeException.class,
                () -> LoraExtract.run(BASE, BASE, 4, tmp.resolve("a"), ProgressListener.NONE));
        assertTrue(e.getMessage().contains("nothing to extract"), e.getMessage());
    }

    @Test
    void refusesModelsWithDifferentTensors(@TempDir Path tmp) {
        MergeException e = assertThrows(MergeException.class, () -> LoraExtract.run(BASE,
                LORA.resolve("gpt_base_f32.safetensors"), 4, tmp.resolve("a"), ProgressListener.NONE));
        assertTrue(e.getMessage().startsWith("--tuned: tensor "), e.getMessage());
    }
}
