package dev.tributary.merge.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.merge.Fixtures;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real mergekit's output for configs that use slices, passthrough frankenmerges, per-layer
 * gradients, filters, out_dtype, tokenizer_source, a base listed among the models, della and
 * della_linear (made once by src/test/python/make_mergekit_fixtures.py, with mergekit's random masks
 * drawn from Tributary's seeded stream): the same tensors under the same names, and a config.json that
 * agrees on the layer count and dtype.
 */
class MergekitParityTest {
    private static final Path ROOT = Fixtures.root().resolve("mergekit");
    private static final ObjectMapper JSON = new ObjectMapper();

    static List<String> cases() throws IOException {
        List<String> out = new java.util.ArrayList<>();
        JSON.readTree(ROOT.resolve("cases/index.json").toFile()).forEach(n -> out.add(n.asText()));
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesMergekit(String name, @TempDir Path out) throws IOException {
        MergeRunner.run(ROOT.resolve("cases/" + name + ".yaml"), out, ProgressListener.NONE);
        Path expected = ROOT.resolve("expected/" + name);
        try (TensorSource want = Checkpoint.open(expected); TensorSource got = Checkpoint.open(out)) {
            assertEquals(new TreeSet<>(want.names()), new TreeSet<>(got.names()), name + ": tensor names");
            for (String t : want.names()) {
                Fixtures.assertClose(want.tensor(t), got.tensor(t), name + ": " + t);
            }
        }
        JsonNode want = JSON.readTree(expected.resolve("config.json").toFile());
        JsonNode got = JSON.readTree(out.resolve("config.json").toFile());
        for (String key : List.of("num_hidden_layers", "n_layer", "dtype", "model_type", "vocab_size")) {
            assertEquals(want.get(key), got.get(key), name + ": config.json " + key);
        }
        assertTrue(Files.isRegularFile(out.resolve("mergekit_config.yml")), name + ": mergekit_config.yml");
    }
}
