package dev.tributary.merge.config;

import dev.tributary.merge.Fixtures;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every method against results computed once in PyTorch (src/test/python/make_fixtures.py): f32, f16 and
 * bf16 inputs, sharded inputs, output dtype casts, each case a mergekit YAML run end to end.
 */
class FixtureParityTest {

    record Case(String name, String method, DType dtype) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Case> cases() throws IOException {
        String json = Files.readString(Fixtures.root().resolve("cases/index.json"));
        Matcher m = Pattern.compile("\"case\": \"([^\"]+)\",\\s*\"method\": \"([^\"]+)\",\\s*\"dtype\": \"([^\"]+)\"")
                .matcher(json);
        List<Case> out = new ArrayList<>();
        while (m.find()) {
            out.add(new Case(m.group(1), m.group(2), DType.valueOf(m.group(3))));
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesPyTorchReference(Case c, @TempDir Path out) {
        MergeConfig config = MergeConfig.load(Fixtures.root().resolve("cases/" + c.name() + ".yaml"));
        assertEquals(c.method(), config.method());
        int[] calls = {0};
        MergeRunner.Result result = MergeRunner.run(config, out, (done, total, name) -> calls[0] = done);
        assertEquals(1, result.shards());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
        assertEquals(result.tensors().size() * (c.method().contains("krum") ? 2 : 1), calls[0]);
        try (TensorSource expected = Checkpoint.open(Fixtures.root().resolve("expected/" + c.name() + ".safetensors"));
             TensorSource actual = Checkpoint.open(out)) {
            Fixtures.assertSameModel(expected, actual, c.name());
            assertEquals(c.dtype(), actual.tensor("embed.weight").dtype());
            assertEquals("pt", actual.metadata().get("format"));
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ties_f32", "median_bf16", "krum_f16"})
    void shardedOutputHoldsTheSameTensors(String c, @TempDir Path out) {
        MergeConfig config = MergeConfig.load(Fixtures.root().resolve("cases/" + c + ".yaml"));
        MergeConfig small = config.withOutShardSize(300);
        MergeRunner.Result result = MergeRunner.run(small, out, ProgressListener.NONE);
        assertTrue(result.shards() > 1, "expected several shards, got " + result.shards());
        assertTrue(Files.isRegularFile(out.resolve(Checkpoint.INDEX_FILE)));
        try (TensorSource expected = Checkpoint.open(Fixtures.root().resolve("expected/" + c + ".safetensors"));
             TensorSource actual = Checkpoint.open(out)) {
            Fixtures.assertSameModel(expected, actual, c + " sharded");
        }
    }
}
