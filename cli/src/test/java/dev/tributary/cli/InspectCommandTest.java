package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.tensor.CheckpointWriter;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
    @TempDir
    Path dir;

    private Path sample() {
        TensorMap m = new TensorMap()
                .put("embed.weight", Tensor.ofFloats(DType.BF16, new long[] {3, 4}, new float[12]))
                .put("head.bias", Tensor.ofFloats(new long[] {5}, 1, 2, 3, 4, 5))
                .put("scale", Tensor.ofFloats(new long[] {}, 2f))
                .put("empty", Tensor.ofFloats(new long[] {0, 7}))
                .putMetadata("format", "pt");
        Path file = dir.resolve("m.safetensors");
        Safetensors.write(file, m);
        return file;
    }

    @Test
    void jsonListsEveryTensorWithTotalsAndMetadata() throws Exception {
        CliRunner r = CliRunner.run("inspect", sample().toString(), "--json");
        assertEquals(0, r.status(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(4, j.get("tensors").size());
        assertEquals("embed.weight", j.get("tensors").get(0).get("name").asText());
        assertEquals("BF16", j.get("tensors").get(0).get("dtype").asText());
        assertEquals("[3,4]", j.get("tensors").get(0).get("shape").toString());
        assertEquals("[]", j.get("tensors").get(2).get("shape").toString());
        assertEquals(12 + 5 + 1, j.get("parameters").asLong());
        assertEquals(12 * 2 + 5 * 4 + 4, j.get("bytes").asLong());
        assertEquals("pt", j.get("metadata").get("format").asText());
    }

    @Test
    void tableShowsTotals() {
        CliRunner r = CliRunner.run("inspect", sample().toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("parameters: 18"), r.out());
        assertTrue(r.out().contains("head.bias"), r.out());
        assertTrue(r.out().contains("format: pt"), r.out());
    }

    @Test
    void folderWithShardsIsReadThroughItsIndex() throws Exception {
        Tensor a = Tensor.ofFloats(new long[] {256}, new float[256]);
        Tensor b = Tensor.ofFloats(new long[] {256}, new float[256]);
        Path out = dir.resolve("sharded");
        try (CheckpointWriter w = CheckpointWriter.create(out, java.util.List.of(a.info("a"), b.info("b")), Map.of(), 1100)) {
            w.write("a", a);
            w.write("b", b);
        }
        assertTrue(Files.exists(out.resolve("model.safetensors.index.json")));
        CliRunner r = CliRunner.run("inspect", out.toString(), "--json");
        assertEquals(0, r.status(), r.err());
        assertEquals(512, new ObjectMapper().readTree(r.out()).get("parameters").asLong());
    }

    @Test
    void missingFileIsOneLineExitOne() {
        CliRunner r = CliRunner.run("inspect", dir.resolve("nope.safetensors").toString());
        assertEquals(1, r.status());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: ") && r.err().contains("nope.safetensors"), r.err());
    }

    @Test
    void malformedFileIsOneLineNamingTheFileWithoutStackTrace() throws Exception {
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, new byte[] {(byte) 200, 0, 0, 0, 0, 0, 0, 0, '{', '}'});
        CliRunner r = CliRunner.run("inspect", bad.toString());
        assertEquals(1, r.status());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("bad.safetensors"), r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }

    @Test
    void debugShowsTheStackTrace() throws Exception {
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, new byte[] {1, 2, 3});
        CliRunner r = CliRunner.run("inspect", bad.toString(), "--debug");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("\tat "), r.err());
    }

    @Test
    void missingArgumentIsUsageErrorExitTwo() {
        CliRunner r = CliRunner.run("inspect");
        assertEquals(2, r.status());
        assertTrue(r.err().startsWith("error: "), r.err());
    }

    @Test
    void unknownCommandIsUsageError() {
        CliRunner r = CliRunner.run("frobnicate");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("frobnicate"), r.err());
    }
    @Test
    void anAdapterFolderShowsRankAlphaTargetsModulesAndTensors() throws Exception {
        Path adapter = LoraCommandTest.PEFT.resolve("llama_dora/adapter");
        CliRunner t = CliRunner.run("inspect", adapter.toString());
        assertEquals(0, t.status(), t.err());
        assertTrue(t.out().contains("LoRA (DoRA)"), t.out());
        assertTrue(t.out().contains("target_modules:  down_proj, embed_tokens, q_proj, v_proj"), t.out());
        assertTrue(t.out().contains("modules_to_save: lm_head"), t.out());
        assertTrue(t.out().matches("(?s).*model\\.layers\\.0\\.self_attn\\.v_proj +linear +2 +8 +4\\.000  DoRA.*"), t.out());
        assertTrue(t.out().matches("(?s).*model\\.layers\\.0\\.mlp\\.down_proj +linear +4 +3 +0\\.7500  DoRA.*"), t.out());
        assertTrue(t.out().contains("replaces model.embed_tokens.weight (saved whole as "
                + "base_model.model.model.embed_tokens.base_layer.weight)"), t.out());
        assertTrue(t.out().contains("base_model.model.model.embed_tokens.lora_magnitude_vector"), t.out());

        CliRunner j = CliRunner.run("inspect", adapter.toString(), "--json");
        assertEquals(0, j.status(), j.err());
        JsonNode a = new ObjectMapper().readTree(j.out());
        assertEquals(4, a.get("adapter").get("r").asInt());
        assertTrue(a.get("adapter").get("use_dora").asBoolean());
        assertEquals(7, a.get("adapter").get("modules").size());
        JsonNode emb = a.get("adapter").get("modules").get(0);
        assertEquals("model.embed_tokens", emb.get("name").asText());
        assertEquals("embedding", emb.get("kind").asText());
        assertEquals(2.0, emb.get("scale").asDouble(), 0);
        assertEquals(2, a.get("adapter").get("replaces").size());
        assertEquals(23, a.get("tensors").size());
    }
}
