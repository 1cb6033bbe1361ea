package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraCommandTest {
    @TempDir
    Path dir;

    private static float[] random(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    @Test
    void extractThenMergeReproducesTheTunedModelAndUnmergeGivesBackTheBase() throws Exception {
        Random rnd = new Random(7);
        int out = 6;
        int in = 5;
        float[] w = random(rnd, out * in);
        float[] u = random(rnd, out);
        float[] v = random(rnd, in);
        float[] tuned = w.clone();
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < in; j++) {
                tuned[i * in + j] += u[i] * v[j]; // a rank-1 change
            }
        }
        float[] bias = random(rnd, out);
        Path base = dir.resolve("base.safetensors");
        Path tunedFile = dir.resolve("tuned.safetensors");
        Safetensors.write(base, new TensorMap()
                .put("layers.0.proj.weight", Tensor.ofFloats(new long[] {out, in}, w))
                .put("layers.0.proj.bias", Tensor.ofFloats(new long[] {out}, bias)));
        Safetensors.write(tunedFile, new TensorMap()
                .put("layers.0.proj.weight", Tensor.ofFloats(new long[] {out, in}, tuned))
                .put("layers.0.proj.bias", Tensor.ofFloats(new long[] {out}, bias)));

        Path adapter = dir.resolve("adapter");
        CliRunner ex = CliRunner.run("lora", "extract", "--base", base.toString(), "--tuned", tunedFile.toString(),
                "--rank", "2", "--out", adapter.toString());
        assertEquals(0, ex.status(), ex.err());
        assertTrue(ex.out().contains("layers.0.proj.weight"), ex.out());
        assertTrue(ex.out().contains("energy 1.0000") || ex.out().contains("energy 0.9999"), ex.out());
        assertTrue(Files.exists(adapter.resolve("adapter_config.json")));
        assertTrue(Files.exists(adapter.resolve("adapter_model.safetensors")));

        Path merged = dir.resolve("merged");
        CliRunner m = CliRunner.run("lora", "merge", "--base", base.toString(), "--adapter", adapter.toString(),
                "--out", merged.toString());
        assertEquals(0, m.status(), m.err());
        float[] got = Safetensors.readAll(single(merged)).get("layers.0.proj.weight").toFloatArray();
        for (int i = 0; i < tuned.length; i++) {
            assertEquals(tuned[i], got[i], 1e-4, "element " + i);
        }

        Path back = dir.resolve("back");
        CliRunner um = CliRunner.run("lora", "merge", "--base", single(merged).toString(), "--adapter", adapter.toString(),
                "--out", back.toString(), "--unmerge");
        assertEquals(0, um.status(), um.err());
        float[] restored = Safetensors.readAll(single(back)).get("layers.0.proj.weight").toFloatArray();
        for (int i = 0; i < w.length; i++) {
            assertEquals(w[i], restored[i], 1e-4, "element " + i);
        }
    }

    private static Path single(Path out) {
        return Files.isDirectory(out) ? out.resolve("model.safetensors") : out;
    }

    @Test
    void missingAdapterFolderIsNamed() {
        CliRunner r = CliRunner.run("lora", "merge", "--base", dir.resolve("b").toString(), "--adapter",
                dir.resolve("a").toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("error: --base"), r.err());
    }

    @Test
    void rankBelowOneIsUsageError() throws Exception {
        Path f = dir.resolve("m.safetensors");
        Safetensors.write(f, new TensorMap().put("x", Tensor.ofFloats(new long[] {1}, 1)));
        CliRunner r = CliRunner.run("lora", "extract", "--base", f.toString(), "--tuned", f.toString(), "--rank", "0",
                "--out", dir.resolve("o").toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--rank 0"), r.err());
    }
    static final Path PEFT = Path.of("..", "merge", "src", "test", "resources", "fixtures", "peft").toAbsolutePath();

    @Test
    void doraMergeReportsItsModulesAndReplacementsAndUnmergeFindsTheNorms() {
        assertTrue(Files.isDirectory(PEFT), "PEFT fixtures not found at " + PEFT);
        Path merged = dir.resolve("merged");
        CliRunner m = CliRunner.run("lora", "merge", "--base", PEFT.resolve("llama_dora/base").toString(), "--adapter",
                PEFT.resolve("llama_dora/adapter").toString(), "--out", merged.toString());
        assertEquals(0, m.status(), m.err());
        assertTrue(m.out().contains("merged 7 LoRA modules (7 DoRA) into the base"), m.out());
        assertTrue(m.out().contains("replaced 2 tensors") && m.out().contains("model.embed_tokens.weight"), m.out());
        assertTrue(m.out().contains("dora_norms.safetensors"), m.out());
        Path back = dir.resolve("back");
        CliRunner u = CliRunner.run("lora", "merge", "--unmerge", "--base", merged.toString(), "--adapter",
                PEFT.resolve("llama_dora/adapter").toString(), "--out", back.toString());
        assertEquals(0, u.status(), u.err());
        float[] expected = Safetensors.readAll(PEFT.resolve("llama_dora/unmerged.safetensors"))
                .get("model.layers.1.self_attn.q_proj.weight").toFloatArray();
        float[] got = Safetensors.readAll(single(back)).get("model.layers.1.self_attn.q_proj.weight").toFloatArray();
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got[i], 1e-5, "element " + i);
        }
    }

    @Test
    void extractWithAlphaAndTargetModulesWritesThemAndStillReproducesTheDelta() throws Exception {
        Random rnd = new Random(3);
        int n = 6;
        float[] w = random(rnd, n * n);
        float[] tuned = w.clone();
        float[] u = random(rnd, n);
        float[] v = random(rnd, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                tuned[i * n + j] += u[i] * v[j];
            }
        }
        float[] other = random(rnd, n * n);
        float[] otherTuned = other.clone();
        otherTuned[0] += 1;
        Path base = dir.resolve("base.safetensors");
        Path tunedFile = dir.resolve("tuned.safetensors");
        Safetensors.write(base, new TensorMap()
                .put("layers.0.q_proj.weight", Tensor.ofFloats(new long[] {n, n}, w))
                .put("layers.0.o_proj.weight", Tensor.ofFloats(new long[] {n, n}, other)));
        Safetensors.write(tunedFile, new TensorMap()
                .put("layers.0.q_proj.weight", Tensor.ofFloats(new long[] {n, n}, tuned))
                .put("layers.0.o_proj.weight", Tensor.ofFloats(new long[] {n, n}, otherTuned)));
        Path adapter = dir.resolve("adapter");
        CliRunner ex = CliRunner.run("lora", "extract", "--base", base.toString(), "--tuned", tunedFile.toString(),
                "--rank", "2", "--alpha", "16", "--target-modules", "q_proj", "--out", adapter.toString());
        assertEquals(0, ex.status(), ex.err());
        assertTrue(ex.out().contains("layers.0.o_proj.weight") && ex.out().contains("not in --target-modules"),
                ex.out());
        JsonNode config = new ObjectMapper().readTree(adapter.resolve("adapter_config.json").toFile());
        assertEquals(16, config.get("lora_alpha").asInt());
        assertEquals("[\"layers.0.q_proj\"]", config.get("target_modules").toString());
        assertTrue(config.get("alpha_pattern").isEmpty(), config.toString());
        Path merged = dir.resolve("merged");
        CliRunner m = CliRunner.run("lora", "merge", "--base", base.toString(), "--adapter", adapter.toString(),
                "--out", merged.toString());
        assertEquals(0, m.status(), m.err());
        TensorMap out = Safetensors.readAll(single(merged));
        float[] got = out.get("layers.0.q_proj.weight").toFloatArray();
        for (int i = 0; i < tuned.length; i++) {
            assertEquals(tuned[i], got[i], 1e-4, "element " + i);
        }
        assertTrue(out.get("layers.0.o_proj.weight").contentEquals(Tensor.ofFloats(new long[] {n, n}, other)));

        CliRunner none = CliRunner.run("lora", "extract", "--base", base.toString(), "--tuned", tunedFile.toString(),
                "--rank", "2", "--target-modules", "k_proj", "--out", dir.resolve("x").toString());
        assertEquals(1, none.status());
        assertTrue(none.err().contains("--target-modules: k_proj matches no 2-D weight"), none.err());
        CliRunner badAlpha = CliRunner.run("lora", "extract", "--base", base.toString(), "--tuned",
                tunedFile.toString(), "--rank", "2", "--alpha", "-1", "--out", dir.resolve("y").toString());
        assertEquals(2, badAlpha.status());
        assertTrue(badAlpha.err().contains("--alpha -1.0"), badAlpha.err());
    }
}
