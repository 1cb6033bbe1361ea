package dev.tributary.merge.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.merge.Fixtures;
import dev.tributary.merge.MergeException;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The model folder around the weights, and one-line refusals of mergekit YAML that cannot be merged. */
class MergekitYamlTest {
    private static final Path MODELS = Fixtures.root().resolve("mergekit/models");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path yaml(String text) throws IOException {
        Path f = tmp.resolve("m.yaml");
        Files.writeString(f, text.replace("MODELS", MODELS.toString()));
        return f;
    }

    private String fails(String text) throws IOException {
        Path cfg = yaml(text);
        MergeException e = assertThrows(MergeException.class,
                () -> MergeRunner.run(MergeConfig.load(cfg), tmp.resolve("out"), ProgressListener.NONE));
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("out/model.safetensors")), "written despite " + e.getMessage());
        return e.getMessage();
    }

    @Test
    void theFolderHoldsConfigGenerationConfigTokenizerAndShardsWithAnIndex() throws IOException {
        Path cfg = yaml("""
                models:
                  - model: MODELS/a
                    parameters: {weight: 1}
                  - model: MODELS/b
                    parameters: {weight: 1}
                merge_method: linear
                out_dtype: bfloat16
                out_shard_size: 2K
                """);
        Path out = tmp.resolve("out");
        MergeRunner.Result r = MergeRunner.run(cfg, out, ProgressListener.NONE);
        assertTrue(r.shards() > 1);
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")));
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertEquals("bfloat16", config.get("dtype").asText());
        assertEquals(4, config.get("num_hidden_layers").asInt());
        for (String f : new String[] {"generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
            assertEquals(Files.readString(MODELS.resolve("a/" + f)), Files.readString(out.resolve(f)), f);
        }
        assertEquals(Files.readString(cfg), Files.readString(out.resolve("mergekit_config.yml")));
        try (TensorSource merged = Checkpoint.open(out)) {
            assertEquals(dev.tributary.tensor.DType.BF16, merged.tensor("lm_head.weight").dtype());
        }
    }

    @Test
    void sliceRefusalsNameTheValueAndTheRule() throws IOException {
        String slice = """
                slices:
                  - sources:
                      - model: MODELS/a
                        layer_range: RANGE
                merge_method: passthrough
                """;
        assertEquals("slices[0].sources[0] (" + tmp.relativize(MODELS.resolve("a")) + "): layer_range [2, 6] is out of "
                + "bounds: the model has 4 layers (0..3)", fails(slice.replace("RANGE", "[2, 6]")));
        assertEquals("m.yaml: slices[0].sources[0].layer_range: [3, 3] is empty or negative; it needs 0 <= first < end",
                fails(slice.replace("RANGE", "[3, 3]")));
        assertEquals("m.yaml: slices[0].sources[0].layer_range: expected two integers [first, end], got [1]",
                fails(slice.replace("RANGE", "[1]")));
        String two = slice.replace("RANGE", "[0, 2]").replace("merge_method", """
                      - model: MODELS/b
                        layer_range: [0, 3]
                merge_method""");
        String unequal = fails(two.replace("passthrough", "linear"));
        assertTrue(unequal.startsWith("m.yaml: slices[0]: sources cover 2 and 3 "
                + "layers; every source of a slice must cover the same number"), unequal);
        String ties = two.replace("[0, 3]", "[1, 3]").replace("merge_method: passthrough", "merge_method: ties\n"
                + "base_model: MODELS/base");
        assertTrue(fails(ties).startsWith("slices[0]: base_model base is not among the slice's sources; ties needs it"));
    }

    @Test
    void parameterAndKeyRefusalsNameTheValueAndTheRule() throws IOException {
        String models = """
                models:
                  - model: MODELS/a
                    parameters:
                      weight: WEIGHT
                merge_method: METHOD
                """;
        String who = "models[0] (" + tmp.relativize(MODELS.resolve("a")) + ")";
        assertEquals(who + ": parameters.wieght: unknown parameter for linear (known per model: weight)",
                fails(models.replace("weight: WEIGHT", "wieght: [{filter: nothing_matches, value: 1}]")
                        .replace("METHOD", "linear")));
        assertEquals("m.yaml: models[0].parameters.weight: an empty list; a gradient needs at least one value",
                fails(models.replace("WEIGHT", "[]").replace("METHOD", "linear")));
        assertTrue(fails(models.replace("WEIGHT", "1").replace("METHOD", "frankenmerge"))
                .startsWith("merge_method: unknown method \"frankenmerge\" (known: linear,"));
        assertEquals("m.yaml: tokenizer_source: union is not supported (use base or a model folder, whose tokenizer is "
                + "copied)", fails(models.replace("WEIGHT", "1").replace("METHOD", "linear") + "tokenizer_source: union\n"));
        assertTrue(fails(models.replace("WEIGHT", "1").replace("METHOD", "linear") + "modules: {}\n")
                .startsWith("m.yaml: key modules: not supported (supported: base_model,"));
        assertTrue(fails(models.replace("WEIGHT", "1").replace("METHOD", "linear") + "base_model: MODELS/base\n")
                .startsWith("m.yaml: base_model: linear takes no base model; list "));
        String della = models.replace("WEIGHT", "1\n      density: 0.8\n      epsilon: 0.3").replace("METHOD", "della")
                + "base_model: MODELS/base\n";
        assertTrue(fails(della).startsWith(who + ": parameters.epsilon: 0.3 with density 0.8 puts density ± epsilon "
                + "outside (0, 1)"), fails(della));
        assertEquals("m.yaml: give exactly one of models and slices", fails("merge_method: linear\n"));
    }
}
