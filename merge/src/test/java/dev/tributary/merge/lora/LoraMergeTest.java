package dev.tributary.merge.lora;

import dev.tributary.merge.Fixtures;
import dev.tributary.merge.MergeException;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LoRA merge and unmerge against results computed in PyTorch, and the refusals. */
class LoraMergeTest {
    private static final Path LORA = Fixtures.root().resolve("lora");

    @ParameterizedTest
    @ValueSource(strings = {"f32", "bf16"})
    void mergeMatchesPyTorch(String dtype, @TempDir Path tmp) {
        Path out = tmp.resolve("merged.safetensors");
        LoraMerge.Result r = LoraMerge.run(LORA.resolve("llama_base_" + dtype + ".safetensors"),
                LORA.resolve("llama_adapter"), out, false, ProgressListener.NONE);
        assertEquals(4, r.modules().size());
        assertEquals(6, r.tensors());
        try (TensorSource expected = Checkpoint.open(LORA.resolve("llama_merged_" + dtype + ".safetensors"));
             TensorSource actual = Checkpoint.open(out)) {
            Fixtures.assertSameModel(expected, actual, "merged " + dtype);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"f32", "bf16"})
    void unmergeMatchesPyTorch(String dtype, @TempDir Path tmp) {
        LoraMerge.run(LORA.resolve("llama_base_" + dtype + ".safetensors"), LORA.resolve("llama_adapter"), tmp, true,
                ProgressListener.NONE);
        assertTrue(Files.isRegularFile(tmp.resolve("model.safetensors")));
        try (TensorSource expected = Checkpoint.open(LORA.resolve("llama_unmerged_" + dtype + ".safetensors"));
             TensorSource actual = Checkpoint.open(tmp)) {
            Fixtures.assertSameModel(expected, actual, "unmerged " + dtype);
        }
    }

    @Test
    void fanInFanOutRsLoraAndRegexTargetsMatchPyTorch(@TempDir Path tmp) {
        Path out = tmp.resolve("gpt.safetensors");
        LoraMerge.Result r = LoraMerge.run(LORA.resolve("gpt_base_f32.safetensors"), LORA.resolve("gpt_adapter"), out,
                false, ProgressListener.NONE);
        assertEquals(2, r.modules().size());
        try (TensorSource expected = Checkpoint.open(LORA.resolve("gpt_merged_f32.safetensors"));
             TensorSource actual = Checkpoint.open(out)) {
            Fixtures.assertSameModel(expected, actual, "gpt");
        }
    }

    @Test
    void mergeThenUnmergeIsTheIdentityInF32(@TempDir Path tmp) {
        Path base = LORA.resolve("llama_base_f32.safetensors");
        Path merged = tmp.resolve("merged.safetensors");
        Path back = tmp.resolve("back.safetensors");
        LoraMerge.run(base, LORA.resolve("llama_adapter"), merged, false, ProgressListener.NONE);
        LoraMerge.run(merged, LORA.resolve("llama_adapter"), back, true, ProgressListener.NONE);
        TensorMap original = Safetensors.readAll(base);
        TensorMap mergedMap = Safetensors.readAll(merged);
        TensorMap restored = Safetensors.readAll(back);
        boolean changed = false;
        for (String name : original.names()) {
            float[] o = original.get(name).toFloatArray();
            float[] m = mergedMap.get(name).toFloatArray();
            float[] b = restored.get(name).toFloatArray();
            for (int i = 0; i < o.length; i++) {
                changed |= m[i] != o[i];
                assertEquals(o[i], b[i], 1e-6, name + "[" + i + "]");
            }
        }
        assertTrue(changed, "merging changed nothing");
    }

    @Test
    void progressCountsEveryTensor(@TempDir Path tmp) {
        int[] last = {0, 0};
        LoraMerge.run(LORA.resolve("llama_base_f32.safetensors"), LORA.resolve("llama_adapter"), tmp, false,
                (done, total, name) -> {
                    last[0] = done;
                    last[1] = total;
                });
        assertEquals(6, last[0]);
        assertEquals(6, last[1]);
    }

    private static Path adapterWithConfig(Path tmp, String from, String to) throws IOException {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Files.copy(LORA.resolve("llama_adapter/adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
        String json = Files.readString(LORA.resolve("llama_adapter/adapter_config.json"));
        assertTrue(json.contains(from), "fixture config lacks " + from);
        Files.writeString(dir.resolve("adapter_config.json"), json.replace(from, to));
        return dir;
    }

    private static MergeException refuse(Path adapter, Path tmp) {
        Path out = tmp.resolve("out.safetensors");
        MergeException e = assertThrows(MergeException.class, () ->
                LoraMerge.run(LORA.resolve("llama_base_f32.safetensors"), adapter, out, false, ProgressListener.NONE));
        assertFalse(Files.exists(out), "output written despite the error");
        assertFalse(e.getMessage().contains("\n"), "error spans several lines: " + e.getMessage());
        return e;
    }

    @Test
    void refusesAModuleOutsideTargetModules(@TempDir Path tmp) throws IOException {
        Path adapter = adapterWithConfig(tmp, "\"fc\",", "");
        MergeException e = refuse(adapter, tmp);
        assertTrue(e.getMessage().contains("model.layers.0.mlp.fc") && e.getMessage().contains("target_modules"),
                e.getMessage());
    }

    @Test
    void refusesARankThatDisagreesWithTheConfig(@TempDir Path tmp) throws IOException {
        Path adapter = adapterWithConfig(tmp, "\"v_proj\": 2", "\"v_proj\": 3");
        MergeException e = refuse(adapter, tmp);
        assertTrue(e.getMessage().contains("v_proj.lora_A.weight") && e.getMessage().contains("[3,6]"), e.getMessage());
    }

    @Test
    void refusesAModuleTheBaseLacks(@TempDir Path tmp) {
        MergeException e = assertThrows(MergeException.class, () -> LoraMerge.run(
                LORA.resolve("gpt_base_f32.safetensors"), LORA.resolve("llama_adapter"), tmp.resolve("o.safetensors"),
                false, ProgressListener.NONE));
        assertTrue(e.getMessage().contains("the base has no tensor model."), e.getMessage());
    }

    @Test
    void refusesKeysThatAreNotLoraMatrices(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Files.copy(LORA.resolve("llama_adapter/adapter_config.json"), dir.resolve("adapter_config.json"));
        TensorMap adapter = Safetensors.readAll(LORA.resolve("llama_adapter/adapter_model.safetensors"));
        adapter.put("base_model.model.model.layers.0.mlp.fc.bias", Tensor.ofFloats(new long[] {8}, new float[8]));
        Safetensors.write(dir.resolve("adapter_model.safetensors"), adapter);
        MergeException e = refuse(dir, tmp);
        assertTrue(e.getMessage().contains("base_model.model.model.layers.0.mlp.fc.bias"), e.getMessage());
    }

    @Test
    void refusesAMissingAdapterFile(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("adapter");
        Files.createDirectories(dir);
        Files.copy(LORA.resolve("llama_adapter/adapter_config.json"), dir.resolve("adapter_config.json"));
        assertTrue(refuse(dir, tmp).getMessage().contains("adapter_model.safetensors"));
    }

    @Test
    void keepsTheBaseDtypeAndPassesOtherTensorsThrough(@TempDir Path tmp) {
        Path out = tmp.resolve("m.safetensors");
        LoraMerge.run(LORA.resolve("llama_base_bf16.safetensors"), LORA.resolve("llama_adapter"), out, false,
                ProgressListener.NONE);
        TensorMap base = Safetensors.readAll(LORA.resolve("llama_base_bf16.safetensors"));
        TensorMap merged = Safetensors.readAll(out);
        for (String name : List.of("model.layers.0.mlp.fc.bias", "model.norm.weight")) {
            assertTrue(base.get(name).contentEquals(merged.get(name)), name);
        }
        assertTrue(Stream.of(merged.names().toArray(String[]::new)).allMatch(n -> merged.get(n).dtype() == DType.BF16));
    }
}
