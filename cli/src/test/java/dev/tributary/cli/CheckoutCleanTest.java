package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's commands, run from a checkout, leave nothing git would call untracked: their outputs go
 * under {@code .tributary/}, which the project's {@code .gitignore} ignores. The scratch checkout holds the
 * real {@code .gitignore}; the commands run in one child JVM each, from its root.
 */
class CheckoutCleanTest {
    @TempDir
    Path scratch;

    @TempDir
    Path elsewhere;

    static String run(Path dir, List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), cmd + " did not end");
        assertEquals(0, p.exitValue(), cmd + ": " + out);
        return out;
    }

    static List<String> tributary(String... args) {
        return ChildJvm.command(List.of(), args);
    }

    @Test
    void initInspectAndSimulateLeaveTheCheckoutClean() throws Exception {
        Path gitignore = Path.of("..", ".gitignore").toAbsolutePath().normalize();
        Assumptions.assumeTrue(Files.isRegularFile(gitignore), "skipped: not run from the repository (no " + gitignore + ")");
        try {
            run(scratch, List.of("git", "--version"));
        } catch (IOException e) {
            Assumptions.abort("skipped: no git on this machine");
        }
        Files.copy(gitignore, scratch.resolve(".gitignore"));
        run(scratch, List.of("git", "init", "-q"));
        run(scratch, List.of("git", "add", ".gitignore"));
        run(scratch, List.of("git", "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "scratch"));
        Path config = Files.writeString(elsewhere.resolve("tiny.yaml"), """
                task: synthetic-logreg
                clients: 3
                seed: 1
                strategy: {name: fedasync}
                local: {steps: 2}
                budget: {virtual_seconds: 5}
                eval_every: 4
                """);

        run(scratch, tributary("init", "--task", "synthetic-logreg", "--out", ".tributary/init.safetensors"));
        assertTrue(run(scratch, tributary("inspect", ".tributary/init.safetensors")).contains("parameters:"));
        run(scratch, tributary("simulate", "--config", config.toString(), "--report", ".tributary/sim/tiny.json"));

        assertTrue(Files.isRegularFile(scratch.resolve(".tributary/sim/tiny.png")), "the plot is there");
        assertEquals("", run(scratch, List.of("git", "status", "--porcelain", "--untracked-files=all")));
        // And the ignore rule is what keeps it clean: without it, the outputs show.
        Files.writeString(scratch.resolve(".gitignore"), "");
        assertTrue(run(scratch, List.of("git", "status", "--porcelain", "--untracked-files=all")).contains(".tributary/init.safetensors"));
    }
}
