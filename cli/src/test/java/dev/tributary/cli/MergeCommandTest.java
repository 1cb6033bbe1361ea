package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MergeCommandTest {
    @TempDir
    Path dir;

    private void model(String file, float scale) {
        TensorMap m = new TensorMap()
                .put("w", Tensor.ofFloats(new long[] {2, 2}, scale, 2 * scale, 3 * scale, 4 * scale))
                .put("b", Tensor.ofFloats(new long[] {3}, scale, -scale, 0));
        Safetensors.write(dir.resolve(file), m);
    }

    private Path config(String body) throws Exception {
        Path yaml = dir.resolve("merge.yaml");
        Files.writeString(yaml, body);
        return yaml;
    }

    @Test
    void linearMergeWritesTheWeightedMeanInTheRequestedDtype() throws Exception {
        model("a.safetensors", 1);
        model("b.safetensors", 5);
        Path yaml = config("""
                merge_method: linear
                dtype: bfloat16
                models:
                  - model: a.safetensors
                    parameters: {weight: 3}
                  - model: b.safetensors
                    parameters: {weight: 1}
                """);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("merge", yaml.toString(), "--out", out.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("merged 2 tensors"), r.out());
        TensorMap merged = Safetensors.readAll(out.resolve("model.safetensors"));
        assertEquals(DType.BF16, merged.get("w").dtype());
        // (3·1 + 1·5) / 4 = 2 per unit: exact in bf16
        assertArrayEquals(new float[] {2, 4, 6, 8}, merged.get("w").toFloatArray());
        assertArrayEquals(new float[] {2, -2, 0}, merged.get("b").toFloatArray());
    }

    @Test
    void unknownMethodIsOneLineNamingIt() throws Exception {
        model("a.safetensors", 1);
        Path yaml = config("""
                merge_method: averaging
                models:
                  - model: a.safetensors
                """);
        CliRunner r = CliRunner.run("merge", yaml.toString(), "--out", dir.resolve("out").toString());
        assertEquals(1, r.status());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("averaging"), r.err());
        assertFalse(Files.exists(dir.resolve("out/model.safetensors")));
    }

    @Test
    void missingTensorNamesTheModelAndTensor() throws Exception {
        model("a.safetensors", 1);
        Safetensors.write(dir.resolve("c.safetensors"),
                new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4)));
        Path yaml = config("""
                merge_method: linear
                parameters: {weight: 1}
                models:
                  - model: a.safetensors
                  - model: c.safetensors
                """);
        CliRunner r = CliRunner.run("merge", yaml.toString(), "--out", dir.resolve("out").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("model c.safetensors") && r.err().contains("tensor b: missing"), r.err());
        assertFalse(Files.exists(dir.resolve("out/model.safetensors")));
    }

    @Test
    void missingConfigFileIsReported() {
        CliRunner r = CliRunner.run("merge", dir.resolve("none.yaml").toString(), "--out", dir.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("none.yaml"), r.err());
    }

    @Test
    void missingOutIsUsageError() throws Exception {
        CliRunner r = CliRunner.run("merge", config("merge_method: linear").toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--out") && r.err().contains("OUT_DIR"), r.err());
    }

    @Test
    void theOutputFolderMayFollowTheConfigAsInMergekit() throws Exception {
        model("a.safetensors", 1);
        model("b.safetensors", 5);
        Path yaml = config("""
                merge_method: linear
                models:
                  - model: a.safetensors
                    parameters: {weight: [1, 3]}
                  - model: b.safetensors
                    parameters: {weight: 1}
                """);
        Path out = dir.resolve("out");
        CliRunner r = CliRunner.run("merge", yaml.toString(), out.toString());
        assertEquals(0, r.status(), r.err());
        // tensors outside the layers are at depth 0, where the gradient's first value applies
        assertArrayEquals(new float[] {3, 6, 9, 12}, Safetensors.readAll(out.resolve("model.safetensors")).get("w")
                .toFloatArray());
        assertEquals(Files.readString(yaml), Files.readString(out.resolve("mergekit_config.yml")));
        r = CliRunner.run("merge", yaml.toString(), out.toString(), "--out", dir.resolve("elsewhere").toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("two output folders"), r.err());
    }

    @Test
    void aFolderWhereAFileIsExpectedAndTheReverseAreNamed() throws Exception {
        model("a.safetensors", 1);
        CliRunner r = CliRunner.run("merge", dir.toString(), dir.resolve("out").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("CONFIG.yaml " + dir + ": is a folder; give a file"), r.err());
        String passthrough = """
                merge_method: passthrough
                models:
                  - model: a.safetensors
                """;
        Path yaml = config(passthrough);
        r = CliRunner.run("merge", yaml.toString(), dir.resolve("a.safetensors").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("OUT_DIR " + dir.resolve("a.safetensors") + ": is a file; give a folder"), r.err());
        Files.createDirectories(dir.resolve("empty"));
        Path tok = config(passthrough + "tokenizer_source: a.safetensors\n");
        r = CliRunner.run("merge", tok.toString(), dir.resolve("out").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("tokenizer_source: " + dir.resolve("a.safetensors") + " is a file; expected a model "
                + "folder"), r.err());
        Path folder = config(passthrough.replace("a.safetensors", "empty"));
        r = CliRunner.run("merge", folder.toString(), dir.resolve("out").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("folder holds neither model.safetensors nor"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
    }
}
