package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A process writing a checkpoint over an existing one halts (no shutdown hooks, nothing more written)
 * between two staging buffers or two flushes of the write-behind path, with direct I/O and through the
 * page cache. Each time the old checkpoint is intact byte for byte, nothing but a dot-prefixed temporary
 * file is left beside it, and that file does not pass for a complete checkpoint; a run that is not halted
 * then replaces the old file with the new one.
 */
class WriteBehindCrashTest {
    static final int HALTED = 86;

    @TempDir
    Path tmp;

    int run(Path target, String mode, String event, int n) throws IOException, InterruptedException {
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx128m",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                WriteBehindCrashChild.class.getName(), target.toString(), mode, event, Integer.toString(n));
        Path log = tmp.resolve("child-" + mode + "-" + event + "-" + n + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child did not finish");
        } finally {
            p.destroyForcibly();
        }
        return p.exitValue();
    }

    @Test
    void aHaltBetweenBuffersOrFlushesLeavesTheOldCheckpointIntact() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("out"));
        Path target = dir.resolve("model.safetensors");
        WriteBehindTest.write(target, WriteBehindTest.model(1), true, Long.MAX_VALUE);
        byte[] before = Files.readAllBytes(target);
        String[][] cases = {{"direct", "chunk", "1"}, {"direct", "chunk", "7"}, {"buffered", "chunk", "5"},
                {"buffered", "flush", "1"}, {"buffered", "flush", "5"}};
        for (String[] c : cases) {
            String what = String.join(" ", c);
            assertEquals(HALTED, run(target, c[0], c[1], Integer.parseInt(c[2])), what);
            assertArrayEquals(before, Files.readAllBytes(target), what + ": old checkpoint changed");
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    if (p.equals(target)) {
                        continue;
                    }
                    String name = p.getFileName().toString();
                    assertTrue(name.startsWith(".model.safetensors.tmp-"), what + ": left " + name);
                    assertTrue(Files.size(p) < before.length, what + ": " + name + " is as long as a whole file");
                    assertThrows(InvalidCheckpointException.class, () -> SafetensorsFile.open(p).close(),
                            what + ": " + name + " passes for a complete checkpoint");
                    Files.delete(p);
                }
            }
        }
        assertEquals(0, run(target, "direct", "none", 0));
        try (SafetensorsFile f = SafetensorsFile.open(target)) {
            TensorMap expected = WriteBehindTest.model(2);
            for (String name : expected.names()) {
                assertTrue(expected.get(name).contentEquals(f.tensor(name)), name);
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(target), s.toList());
        }
    }
}
