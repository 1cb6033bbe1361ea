package dev.tributary.merge.config;

import dev.tributary.merge.Fixtures;
import dev.tributary.merge.MergeException;
import dev.tributary.merge.MergeJob;
import dev.tributary.merge.MergeMethods;
import dev.tributary.merge.Merges;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** mergekit YAML: structure, path resolution, and one-line errors naming model, tensor and key. */
class MergeConfigTest {
    private static final Path MODELS = Fixtures.root().resolve("models");

    private static Path yaml(Path dir, String text) throws IOException {
        return yaml(dir, "merge.yaml", text);
    }

    private static Path yaml(Path dir, String name, String text) throws IOException {
        Path f = dir.resolve(name);
        Files.writeString(f, text);
        return f;
    }

    private static String model(String dtype, String name) {
        return MODELS.resolve(dtype).resolve(name + ".safetensors").toString();
    }

    private static MergeException fails(Path config, Path out) {
        MergeException e = assertThrows(MergeException.class,
                () -> MergeRunner.run(MergeConfig.load(config), out, ProgressListener.NONE));
        assertFalse(e.getMessage().contains("\n"), "error spans several lines: " + e.getMessage());
        assertFalse(Files.exists(out.resolve("model.safetensors")), "output written despite the error");
        return e;
    }

    @Test
    void resolvesPathsAgainstTheConfigFolderAndReadsParameters() {
        MergeConfig c = MergeConfig.load(Fixtures.root().resolve("cases/ties_unnormalized_f32.yaml"));
        assertEquals("ties", c.method());
        assertEquals(3, c.models().size());
        assertEquals(MODELS.resolve("f32/a.safetensors").normalize(), c.models().getFirst().path());
        assertEquals(MODELS.resolve("f32/base.safetensors").normalize(), c.baseModel());
        assertEquals(Map.of("weight", new Setting.Scalar(-0.5), "density", new Setting.Scalar(0.9)),
                c.models().get(1).parameters());
        assertEquals(new Setting.Scalar(false), c.parameters().get("normalize"));
        assertNull(c.dtype());
        assertEquals(MergeConfig.DEFAULT_SHARD_SIZE, c.outShardSize());
    }

    @Test
    void aModelThatIsTheBaseIsNotMergedTwice(@TempDir Path tmp) throws IOException {
        Path cfg = yaml(tmp, """
                models:
                  - model: %s
                  - model: %s
                    parameters: {weight: 1.0}
                merge_method: task_arithmetic
                base_model: %s
                dtype: bfloat16
                out_shard_size: 1GiB
                """.formatted(model("f32", "base"), model("f32", "a"), model("f32", "base")));
        MergeConfig c = MergeConfig.load(cfg);
        assertEquals(1, c.models().size());
        assertEquals(DType.BF16, c.dtype());
        assertEquals(1L << 30, c.outShardSize());
        MergeRunner.Result r = MergeRunner.run(c, tmp.resolve("out"), ProgressListener.NONE);
        TensorMap a = Safetensors.readAll(Path.of(model("f32", "a")));
        TensorMap out = Safetensors.readAll(tmp.resolve("out/model.safetensors"));
        Tensor expected = a.get("embed.weight").castTo(DType.BF16, Arena.ofAuto());
        float[] e = expected.toFloatArray();
        float[] got = out.get("embed.weight").toFloatArray();
        for (int i = 0; i < e.length; i++) {
            assertEquals(e[i], got[i], Math.abs(e[i]) * 0x1.0p-7, "embed.weight[" + i + "]");
        }
        assertEquals(8, r.tensors().size());
        Path withParams = yaml(tmp, Files.readString(cfg).replace("  - model: " + model("f32", "base"),
                "  - model: " + model("f32", "base") + "\n    parameters: {weight: 0.5}"));
        assertEquals(1, MergeConfig.load(withParams).models().size(), "the base's own parameters are not used");
        Path misspelled = yaml(tmp, Files.readString(withParams).replace("{weight: 0.5}", "{wieght: 0.5}"));
        MergeException ex = assertThrows(MergeException.class, () -> MergeConfig.load(misspelled));
        assertTrue(ex.getMessage().matches("models\\[0] \\(.*base.safetensors\\): parameters.wieght: unknown parameter "
                + "for task_arithmetic \\(known per model: weight\\)"), ex.getMessage());
    }

    @Test
    void structuralErrorsNameTheKey(@TempDir Path tmp) throws IOException {
        String ok = "models:\n  - model: " + model("f32", "a") + "\n    parameters: {weight: 1}\nmerge_method: linear\n";
        assertEquals("merge.yaml: key slice: unknown (known: base_model, dtype, merge_method, models, out_dtype, "
                + "out_shard_size, parameters, slices, tokenizer_source)", assertThrows(MergeException.class,
                () -> MergeConfig.load(yaml(tmp, ok + "slice: []\n"))).getMessage());
        assertTrue(assertThrows(MergeException.class, () -> MergeConfig.load(yaml(tmp, ok.replace("linear", "lienar"))))
                .getMessage().startsWith("merge_method: unknown method \"lienar\" (known: linear,"));
        assertEquals("merge.yaml: models[0]: key lora: unknown (known: model, parameters)",
                assertThrows(MergeException.class, () -> MergeConfig.load(yaml(tmp,
                        ok.replace("    parameters", "    lora: x\n    parameters")))).getMessage());
        assertTrue(assertThrows(MergeException.class, () -> MergeConfig.load(yaml(tmp, ok + "dtype: int4\n")))
                .getMessage().startsWith("merge.yaml: dtype: unknown dtype \"int4\""));
        assertEquals("merge.yaml: dtype: I64 is not a floating-point type", assertThrows(MergeException.class,
                () -> MergeConfig.load(yaml(tmp, ok + "dtype: I64\n"))).getMessage());
        assertTrue(assertThrows(MergeException.class, () -> MergeConfig.load(yaml(tmp, ok + "out_shard_size: lots\n")))
                .getMessage().startsWith("merge.yaml: out_shard_size: \"lots\" is not a size"));
        assertTrue(assertThrows(MergeException.class, () -> MergeConfig.load(yaml(tmp, "models: [\n")))
                .getMessage().startsWith("merge.yaml: not valid YAML"));
        assertEquals("merge.yaml: models: expected a non-empty list of {model: path, parameters: {...}}",
                assertThrows(MergeException.class, () -> MergeConfig.load(yaml(tmp, "models: []\nmerge_method: linear\n")))
                        .getMessage());
    }

    @Test
    void sizesReadLikeMergekit() {
        assertEquals(5_000_000_000L, MergeConfig.parseSize("5B", "k"));
        assertEquals(500_000_000L, MergeConfig.parseSize("500M", "k"));
        assertEquals(2_000_000_000L, MergeConfig.parseSize("2GB", "k"));
        assertEquals(3L << 20, MergeConfig.parseSize("3MiB", "k"));
        assertEquals(1234, MergeConfig.parseSize(1234, "k"));
        assertThrows(MergeException.class, () -> MergeConfig.parseSize(0, "k"));
    }

    @Test
    void parameterErrorsNameModelAndKey(@TempDir Path tmp) throws IOException {
        Path cfg = yaml(tmp, """
                models:
                  - model: %s
                    parameters: {weight: 1.0, density: 0.5}
                  - model: %s
                    parameters: {weight: 1.0, densty: 0.5}
                merge_method: ties
                base_model: %s
                """.formatted(model("f32", "a"), model("f32", "b"), model("f32", "base")));
        String msg = fails(cfg, tmp.resolve("out")).getMessage();
        assertTrue(msg.startsWith("models[1] (" + tmp.relativize(Path.of(model("f32", "b"))) + "): parameters.densty: "
                + "unknown parameter for ties (known per model: density, weight)"), msg);
        Path noBase = yaml(tmp, "nobase.yaml", Files.readString(cfg).replace("densty", "density")
                .replace("base_model: " + model("f32", "base") + "\n", ""));
        assertEquals("base_model: required by ties", fails(noBase, tmp.resolve("out")).getMessage());
        Path top = yaml(tmp, "top.yaml", Files.readString(cfg).replace("densty", "density") + "parameters: {lamda: 0.5}\n");
        assertTrue(fails(top, tmp.resolve("out")).getMessage().startsWith("parameters.lamda: unknown parameter for ties"));
    }

    @Test
    void mismatchedInputsNameModelAndTensor(@TempDir Path tmp) throws IOException {
        TensorMap b = Safetensors.readAll(Path.of(model("f32", "b")));
        TensorMap missing = new TensorMap();
        b.asMap().forEach((k, v) -> {
            if (!k.equals("norm.scale")) {
                missing.put(k, v);
            }
        });
        Safetensors.write(tmp.resolve("missing.safetensors"), missing);
        String template = """
                models:
                  - model: %s
                    parameters: {weight: 1.0}
                  - model: %s
                    parameters: {weight: 1.0}
                merge_method: linear
                """;
        String msg = fails(yaml(tmp, template.formatted(model("f32", "a"), tmp.resolve("missing.safetensors"))),
                tmp.resolve("out")).getMessage();
        assertEquals("model missing.safetensors: tensor norm.scale: missing (present in model "
                + tmp.relativize(Path.of(model("f32", "a"))) + ")", msg);
        msg = fails(yaml(tmp, template.formatted(model("f32", "a"), model("bf16", "b"))), tmp.resolve("out")).getMessage();
        assertTrue(msg.matches("model .*bf16/b\\.safetensors: tensor [a-z0-9_.]+: dtype BF16 != F32 of model .*f32/a\\"
                + ".safetensors"), msg);
        msg = fails(yaml(tmp, template.formatted(model("f32", "a"), tmp.resolve("nowhere.safetensors"))),
                tmp.resolve("out")).getMessage();
        assertTrue(msg.startsWith("models[1].model: ") && msg.contains("nowhere.safetensors"), msg);
    }

    @Test
    void nonFiniteValuesStopTheMergeBeforeAnythingIsWritten(@TempDir Path tmp) throws IOException {
        TensorMap a = Safetensors.readAll(Path.of(model("f32", "a")));
        Tensor t = a.get("norm.scale").copy(Arena.ofAuto());
        t.setFloat(4, Float.NaN);
        a.put("norm.scale", t);
        Safetensors.write(tmp.resolve("nan.safetensors"), a);
        Path cfg = yaml(tmp, """
                models:
                  - model: nan.safetensors
                  - model: %s
                merge_method: median
                """.formatted(model("f32", "b")));
        assertEquals("model nan.safetensors: tensor norm.scale: element 4 is NaN; inputs must be finite",
                fails(cfg, tmp.resolve("out")).getMessage());
        try (var files = Files.list(tmp.resolve("out"))) {
            assertEquals(List.of(), files.toList(), "temporary files left behind");
        }
    }

    @Test
    void theCommandLineAndTheInMemoryApiGiveTheSameNumbers(@TempDir Path tmp) {
        MergeConfig c = MergeConfig.load(Fixtures.root().resolve("cases/dare_ties_bf16.yaml"));
        MergeRunner.run(c, tmp, ProgressListener.NONE);
        List<MergeJob.Input> inputs = c.models().stream().map(m -> new MergeJob.Input(m.path().toString(),
                Safetensors.readAll(m.path()), scalars(m.parameters()))).toList();
        TensorMap memory = Merges.merge(MergeMethods.byName(c.method()), inputs, Safetensors.readAll(c.baseModel()),
                scalars(c.parameters()), c.dtype());
        try (TensorSource disk = Checkpoint.open(tmp)) {
            assertEquals(disk.names(), memory.names());
            for (String name : disk.names()) {
                assertTrue(disk.tensor(name).contentEquals(memory.get(name)), name);
            }
        }
    }

    private static Map<String, Object> scalars(Map<String, Setting> settings) {
        Map<String, Object> out = new java.util.LinkedHashMap<>();
        settings.forEach((k, v) -> out.put(k, ((Setting.Scalar) v).value()));
        return out;
    }
}
