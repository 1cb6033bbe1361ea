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
        assertTrue(r.err().contains("--out"), r.err());
    }
}
