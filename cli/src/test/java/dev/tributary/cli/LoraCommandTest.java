package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
