package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo checks every flag before it starts any process or writes anything. */
class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    void badFlagsAreRefusedBeforeAnythingStarts() {
        Path out = dir.resolve("demo");
        String[][] cases = {
            {"--strategy", "fedbuf"}, {"--task", "synthetic-logreg"}, {"--workers", "0"}, {"--target", "1.5"},
            {"--spread", "0.5"}, {"--max-seconds", "0"}, {"--partition", "dirichlet:-1"}
        };
        for (String[] c : cases) {
            CliRunner r = CliRunner.run("demo", "--out", out.toString(), c[0], c[1]);
            assertEquals(1, r.status(), String.join(" ", c) + ": " + r.err());
            String line = r.err().lines().findFirst().orElseThrow();
            assertTrue(line.startsWith("error: " + c[0]), String.join(" ", c) + " -> " + line);
            assertFalse(Files.exists(out), String.join(" ", c) + ": wrote " + out);
        }
    }
}
