package dev.tributary.merge.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.merge.Fixtures;
import dev.tributary.merge.MergeException;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Merge and unmerge against what PEFT itself computes for adapters PEFT saved (fixtures written by
 * {@code src/test/python/make_peft_fixtures.py}): DoRA on linear, Conv1D (fan_in_fan_out) and embedding
 * layers, the embedding saved whole by save_embedding_layers, modules_to_save, a bfloat16 base.
 */
class PeftParityTest {
    static final Path PEFT = Fixtures.root().resolve("peft");

    static List<String> cases(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        new ObjectMapper().readTree(root.resolve("index.json").toFile()).forEach(n -> out.add(n.asText()));
        return out;
    }

    static List<String> cases() throws IOException {
        return cases(PEFT);
    }

    /** Our merge of the case's adapter gives PEFT's merge_and_unload(); our unmerge of that gives PEFT's unmerge. */
    static void assertMatchesPeft(Path dir, Path tmp) {
        Path merged = tmp.resolve("merged");
        LoraMerge.Result r = LoraMerge.run(dir.resolve("base"), dir.resolve("adapter"), merged, false,
                ProgressListener.NONE);
        assertFalse(r.modules().isEmpty(), dir + ": no module merged");
        try (TensorSource expected = Checkpoint.open(dir.resolve("merged.safetensors"));
             TensorSource actual = Checkpoint.open(merged)) {
            Fixtures.assertSameModel(expected, actual, dir.getFileName() + " merged");
        }
        Path back = tmp.resolve("unmerged");
        LoraMerge.run(merged, dir.resolve("adapter"), back, true, ProgressListener.NONE);
        try (TensorSource expected = Checkpoint.open(dir.resolve("unmerged.safetensors"));
             TensorSource actual = Checkpoint.open(back)) {
            Fixtures.assertSameModel(expected, actual, dir.getFileName() + " unmerged");
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void mergeAndUnmergeMatchPeft(String name, @TempDir Path tmp) {
        assertMatchesPeft(PEFT.resolve(name), tmp);
    }

    @Test
    void doraModulesAndReplacementsAreCounted(@TempDir Path tmp) {
        LoraMerge.Result r = LoraMerge.run(PEFT.resolve("llama_dora/base"), PEFT.resolve("llama_dora/adapter"),
                tmp.resolve("out"), false, ProgressListener.NONE);
        assertEquals(7, r.modules().size());
        assertEquals(7, r.dora());
        assertEquals(List.of("lm_head.weight", "model.embed_tokens.weight"), r.replaced().stream().sorted().toList());
        assertTrue(Files.isRegularFile(tmp.resolve("out/" + LoraMerge.DORA_NORMS_FILE)));
    }

    @Test
    void theSavedEmbeddingIsTheOneMergedInto(@TempDir Path tmp) {
        // the adapter's embed_tokens.base_layer.weight differs from the base in its last rows; a merge that
        // kept the base's rows would differ from PEFT's there
        TensorMap base = Safetensors.readAll(PEFT.resolve("llama_lora_bf16/base/model.safetensors"));
        TensorMap adapter = Safetensors.readAll(PEFT.resolve("llama_lora_bf16/adapter/adapter_model.safetensors"));
        float[] b = base.get("model.embed_tokens.weight").toFloatArray();
        float[] saved = adapter.get("base_model.model.model.embed_tokens.base_layer.weight").toFloatArray();
        boolean differs = false;
        for (int i = 0; i < b.length; i++) {
            differs |= b[i] != saved[i];
        }
        assertTrue(differs, "fixture: the saved embedding equals the base's");
        Path out = tmp.resolve("m.safetensors");
        LoraMerge.run(PEFT.resolve("llama_lora_bf16/base"), PEFT.resolve("llama_lora_bf16/adapter"), out, false,
                ProgressListener.NONE);
        try (TensorSource expected = Checkpoint.open(PEFT.resolve("llama_lora_bf16/merged.safetensors"));
             TensorSource actual = Checkpoint.open(out)) {
            Fixtures.assertClose(expected.tensor("model.embed_tokens.weight"), actual.tensor("model.embed_tokens.weight"),
                    "embedding");
        }
    }
    private static Path copyAdapter(String name, Path tmp, String from, String to) throws IOException {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Path src = PEFT.resolve(name + "/adapter");
        Files.copy(src.resolve(LoraMerge.ADAPTER_FILE), dir.resolve(LoraMerge.ADAPTER_FILE));
        String json = Files.readString(src.resolve(LoraMerge.CONFIG_FILE));
        assertTrue(json.contains(from), "fixture config lacks " + from);
        Files.writeString(dir.resolve(LoraMerge.CONFIG_FILE), json.replace(from, to));
        return dir;
    }

    private static MergeException refused(Path base, Path adapter, Path out, boolean unmerge) {
        MergeException e = assertThrows(MergeException.class,
                () -> LoraMerge.run(base, adapter, out, unmerge, ProgressListener.NONE));
        assertFalse(Files.exists(out.resolve("model.safetensors")), "output written despite the error");
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e;
    }

    @Test
    void unmergingDoraWithoutTheMergesNormsIsRefused(@TempDir Path tmp) {
        Path merged = tmp.resolve("merged");
        LoraMerge.run(PEFT.resolve("gpt2_dora/base"), PEFT.resolve("gpt2_dora/adapter"), merged, false,
                ProgressListener.NONE);
        Path norms = LoraMerge.doraNormsFile(merged);
        assertEquals(merged.resolve(LoraMerge.DORA_NORMS_FILE), norms);
        assertTrue(norms.toFile().delete());
        MergeException e = refused(merged, PEFT.resolve("gpt2_dora/adapter"), tmp.resolve("back"), true);
        assertTrue(e.getMessage().contains(LoraMerge.DORA_NORMS_FILE) && e.getMessage().contains("missing"),
                e.getMessage());
    }

    @Test
    void aMagnitudeVectorWithoutUseDoraIsRefused(@TempDir Path tmp) throws IOException {
        Path adapter = copyAdapter("gpt2_dora", tmp, "\"use_dora\": true", "\"use_dora\": false");
        MergeException e = refused(PEFT.resolve("gpt2_dora/base"), adapter, tmp.resolve("out"), false);
        assertTrue(e.getMessage().contains("lora_magnitude_vector") && e.getMessage().contains("use_dora"),
                e.getMessage());
    }

    @Test
    void aWholeModuleNotInModulesToSaveIsRefused(@TempDir Path tmp) throws IOException {
        Path adapter = copyAdapter("llama_dora", tmp, "\"lm_head\"", "\"score\"");
        // lm_head is one of PEFT's embedding layer names, which save_embedding_layers may save whole; a
        // module outside both is refused
        LoraMerge.run(PEFT.resolve("llama_dora/base"), adapter, tmp.resolve("ok"), false, ProgressListener.NONE);
        TensorMap weights = Safetensors.readAll(adapter.resolve(LoraMerge.ADAPTER_FILE));
        weights.put("base_model.model.model.norm.weight", Tensor.ofFloats(new long[] {8}, 1, 2, 3, 4, 5, 6, 7, 8));
        Safetensors.write(adapter.resolve(LoraMerge.ADAPTER_FILE), weights);
        MergeException e = refused(PEFT.resolve("llama_dora/base"), adapter, tmp.resolve("out"), false);
        assertTrue(e.getMessage().contains("base_model.model.model.norm.weight")
                && e.getMessage().contains("modules_to_save"), e.getMessage());
    }
}
