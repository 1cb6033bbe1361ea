package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sharded checkpoints: the PyTorch/transformers-style fixture, our writer, and every inconsistency. */
class CheckpointTest {
    @TempDir
    Path tmp;

    private static final String INDEX = Checkpoint.INDEX_FILE;

    @Test
    void readsTheShardedFixtureInWeightMapOrder() {
        Json.Obj expected = TestFixtures.json("sharded.json");
        try (TensorSource src = Checkpoint.open(TestFixtures.path("sharded"))) {
            // transformers sorts the weight map by name.
            assertEquals(List.of("embed.weight", "head.weight", "layers.0.bias", "layers.0.weight"), src.names());
            assertEquals(Map.of("format", "pt"), src.metadata());
            for (Map.Entry<String, Json.Value> e : expected.members().entrySet()) {
                Tensor t = src.tensor(e.getKey());
                assertEquals(TestFixtures.str(e.getValue(), "dtype"), t.dtype().name());
                assertArrayEquals(TestFixtures.longs(e.getValue(), "shape"), t.shape());
                long[] f32 = TestFixtures.longs(e.getValue(), "f32");
                for (int i = 0; i < f32.length; i++) {
                    assertEquals((int) f32[i], Float.floatToRawIntBits(t.getFloat(i)), e.getKey() + "[" + i + "]");
                }
            }
            assertEquals(src.names(), src.infos().stream().map(TensorInfo::name).toList());
        }
        try (TensorSource viaIndex = Checkpoint.open(TestFixtures.path("sharded").resolve(INDEX))) {
            assertEquals(4, viaIndex.names().size());
        }
    }

    @Test
    void opensAFileOrAFolderWithASingleFile() throws IOException {
        Files.copy(TestFixtures.path("attn0.safetensors"), tmp.resolve("model.safetensors"));
        try (TensorSource a = Checkpoint.open(tmp); TensorSource b = Checkpoint.open(tmp.resolve("model.safetensors"))) {
            assertInstanceOf(SafetensorsFile.class, a);
            assertEquals(List.of("attn.0"), a.names());
            assertEquals(a.infos(), b.infos());
        }
    }

    @Test
    void clearErrorsForMissingCheckpoints() {
        assertEquals(tmp + ": folder holds neither model.safetensors nor model.safetensors.index.json",
                assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(tmp)).getMessage());
        Path absent = tmp.resolve("absent");
        assertEquals(absent + ": no such file or folder",
                assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(absent)).getMessage());
    }

    private Path copyOfFixture() throws IOException {
        Path dir = tmp.resolve("ckpt");
        Files.createDirectories(dir);
        try (Stream<Path> s = Files.list(TestFixtures.path("sharded"))) {
            for (Path p : s.toList()) {
                Files.copy(p, dir.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return dir;
    }

    private String indexProblem(Path dir, String indexJson) throws IOException {
        Files.writeString(dir.resolve(INDEX), indexJson);
        return assertThrows(InvalidCheckpointException.class, () -> Checkpoint.open(dir)).getMessage();
    }

    private static final String SHARD1 = "model-00001-of-00002.safetensors";
    private static final String SHARD2 = "model-00002-of-00002.safetensors";

    @Test
    void inconsistentIndexesAreRefusedWithTheirReason() throws IOException {
        Path dir = copyOfFixture();
        String index = dir.resolve(INDEX).toString();
        String full = "\"embed.weight\":\"" + SHARD1 + "\",\"layers.0.weight\":\"" + SHARD1 + "\","
                + "\"head.weight\":\"" + SHARD2 + "\",\"layers.0.bias\":\"" + SHARD2 + "\"";
        try (TensorSource ok = Checkpoint.open(dir)) {
            assertEquals(4, ok.names().size());
        }
        assertEquals(index + ": shard \"model-00003-of-00003.safetensors\" of tensor \"x\" does not exist",
                indexProblem(dir, "{\"weight_map\":{" + full + ",\"x\":\"model-00003-of-00003.safetensors\"}}"));
        assertEquals(index + ": tensor \"head.weight\" is mapped to \"" + SHARD1 + "\", which does not hold it",
                indexProblem(dir, "{\"weight_map\":{\"head.weight\":\"" + SHARD1 + "\"}}"));
        assertEquals(dir.resolve(SHARD1) + ": tensor \"layers.0.weight\" is not in the weight_map of " + INDEX,
                indexProblem(dir, "{\"weight_map\":{\"embed.weight\":\"" + SHARD1 + "\"}}"));
        assertEquals(index + ": weight_map \"a\": shard \"../model-00001-of-00002.safetensors\" is not a plain file name"
                        + " in the checkpoint folder",
                indexProblem(dir, "{\"weight_map\":{\"a\":\"../" + SHARD1 + "\"}}"));
        assertEquals(index + ": index has no \"weight_map\"", indexProblem(dir, "{\"metadata\":{}}"));
        assertEquals(index + ": weight_map \"a\": shard must be a file name string",
                indexProblem(dir, "{\"weight_map\":{\"a\":1}}"));
        assertTrue(indexProblem(dir, "{\"weight_map\":").startsWith(index + ": index is not valid JSON: "));
        Files.write(dir.resolve(SHARD2), new byte[] {1, 2, 3});
        assertEquals(dir.resolve(SHARD2) + ": header too small: the file has 3 bytes, fewer than the 8 of the header length",
                indexProblem(dir, "{\"weight_map\":{" + full + "}}"));
    }

    @Test
    void writerShardsInOrderAndReadsBack() throws IOException {
        TensorMap m = new TensorMap();
        for (int i = 0; i < 7; i++) {
            float[] v = new float[10 + i];
            for (int j = 0; j < v.length; j++) {
                v[j] = i * 100 + j;
            }
            m.put("layer." + i, Tensor.ofFloats(new long[] {v.length}, v));
        }
        Path dir = tmp.resolve("out");
        try (CheckpointWriter w = CheckpointWriter.create(dir, m.infos(), Map.of("format", "pt"), 60)) {
            assertEquals(7, w.shardCount(), "tensors of 40..64 bytes: no two fit in 60, the last exceeds it alone");
            for (String n : m.names()) {
                w.write(n, m.get(n));
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(8, s.count());
        }
        String index = Files.readString(dir.resolve(INDEX));
        assertTrue(index.startsWith("{\n  \"metadata\": {\n    \"total_size\": " + (4 * (10 + 11 + 12 + 13 + 14 + 15 + 16))
                + "\n  },\n  \"weight_map\": {\n    \"layer.0\": \"model-00001-of-00007.safetensors\",\n"), index);
        try (TensorSource back = Checkpoint.open(dir)) {
            assertEquals(m.names(), back.names());
            assertEquals(Map.of("format", "pt"), back.metadata());
            for (String n : m.names()) {
                assertTrue(m.get(n).contentEquals(back.tensor(n)), n);
            }
        }
        // Rewritten into one shard: model.safetensors, and the stale index is gone.
        try (CheckpointWriter w = CheckpointWriter.create(dir, m.infos(), Map.of(), Long.MAX_VALUE)) {
            assertEquals(1, w.shardCount());
            for (String n : m.names()) {
                w.write(n, m.get(n));
            }
        }
        assertFalse(Files.exists(dir.resolve(INDEX)));
        try (TensorSource back = Checkpoint.open(dir)) {
            assertInstanceOf(SafetensorsFile.class, back);
            assertEquals(m.names(), back.names());
        }
    }

    @Test
    void packsGreedilyAndGivesOversizedTensorsTheirOwnShard() throws IOException {
        TensorMap m = new TensorMap()
                .put("a", Tensor.ofFloats(new long[] {2}, 1, 2))
                .put("b", Tensor.ofFloats(new long[] {2}, 3, 4))
                .put("big", Tensor.ofFloats(new long[] {8}, 1, 2, 3, 4, 5, 6, 7, 8))
                .put("c", Tensor.ofFloats(new long[] {1}, 9));
        Path dir = tmp.resolve("greedy");
        try (CheckpointWriter w = CheckpointWriter.create(dir, m.infos(), Map.of(), 16)) {
            assertEquals(3, w.shardCount());
            for (String n : m.names()) {
                w.write(n, m.get(n));
            }
        }
        try (SafetensorsFile s1 = SafetensorsFile.open(dir.resolve("model-00001-of-00003.safetensors"));
             SafetensorsFile s2 = SafetensorsFile.open(dir.resolve("model-00002-of-00003.safetensors"));
             SafetensorsFile s3 = SafetensorsFile.open(dir.resolve("model-00003-of-00003.safetensors"))) {
            assertEquals(List.of("a", "b"), s1.names());
            assertEquals(List.of("big"), s2.names());
            assertEquals(List.of("c"), s3.names());
        }
    }

    @Test
    void namesMustBeUniqueAcrossShards() {
        Tensor t = Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4);
        Path dir = tmp.resolve("dup");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CheckpointWriter.create(dir, List.of(t.info("a"), t.info("b"), t.info("a")), Map.of(), 16));
        assertEquals(dir + ": tensor \"a\" declared twice", e.getMessage());
    }

    @Test
    void anUnfinishedCheckpointLeavesTheFolderAsItWas() throws IOException {
        Path dir = copyOfFixture();
        byte[] before = Files.readAllBytes(dir.resolve(SHARD1));
        TensorMap m = new TensorMap()
                .put("a", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4))
                .put("b", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4));
        CheckpointWriter w = CheckpointWriter.create(dir, m.infos(), Map.of(), 16);
        w.write("a", m.get("a"));
        IllegalStateException e = assertThrows(IllegalStateException.class, w::close);
        assertTrue(e.getMessage().contains("not written"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(dir.resolve(SHARD1)));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(3, s.count(), "no temporary files left");
        }
        try (TensorSource src = Checkpoint.open(dir)) {
            assertEquals(4, src.names().size());
        }
    }
}
