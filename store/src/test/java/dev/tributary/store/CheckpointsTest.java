package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.TestModels;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointsTest {
    @TempDir
    Path dir;

    private static TensorMap state(float v) {
        return new TensorMap().put("m.w", Tensor.ofFloats(new long[] {2}, v, -v)).putMetadata("round", "4");
    }

    @Test
    void writesLoadsAndKeepsTheNewestTwo() throws IOException {
        Checkpoints c = new Checkpoints(dir, 2);
        for (int v = 1; v <= 4; v++) {
            c.write(ModelImage.of(v, TestModels.model(v)), TestModels.model(v), 100L * v, 10L * v, "fedbuff", state(v));
        }
        List<Path> files = c.list();
        assertEquals(2, files.size());
        Checkpoints.Loaded l = c.newestValid(w -> {}).orElseThrow();
        assertEquals(4, l.version());
        assertEquals(400, l.logPosition());
        assertEquals(40, l.applied());
        assertEquals("fedbuff", l.strategy());
        assertEquals(ModelImage.of(4, TestModels.model(4)).sha256Hex(), l.sha256());
        for (String n : TestModels.model(4).names()) {
            assertTrue(TestModels.model(4).tensor(n).contentEquals(l.model().tensor(n)), n);
        }
        assertTrue(state(4).tensor("m.w").contentEquals(l.state().tensor("m.w")));
        assertEquals("4", l.state().metadata().get("round"));
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.toString().endsWith(".tmp")));
        }
    }

    @Test
    void aDamagedNewestCheckpointFallsBackToTheOlderOne() throws IOException {
        Checkpoints c = new Checkpoints(dir, 2);
        c.write(ModelImage.of(1, TestModels.model(1)), TestModels.model(1), 10, 1, "fedasync", new TensorMap());
        Path newest = c.write(ModelImage.of(2, TestModels.model(2)), TestModels.model(2), 20, 2, "fedasync", new TensorMap());
        try (RandomAccessFile f = new RandomAccessFile(newest.toFile(), "rw")) {
            f.seek(f.length() - 3);
            f.write(0x7f);
        }
        List<String> warnings = new ArrayList<>();
        Checkpoints.Loaded l = c.newestValid(warnings::add).orElseThrow();
        assertEquals(1, l.version());
        assertEquals(1, warnings.size());
        assertTrue(warnings.getFirst().contains("SHA-256"), warnings.getFirst());
    }
}
