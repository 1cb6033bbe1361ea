package dev.tributary.merge.lora;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PEFT parity cases with weights drawn afresh: PEFT (the installed version) saves the adapters and
 * merges them, then our merge and unmerge must give its numbers. Runs with the Python named by
 * {@code $TRIBUTARY_PYTHON} when it imports peft, torch, transformers and safetensors; otherwise it is
 * skipped, saying so.
 */
class PeftLiveTest {
    private static final Path SCRIPT = Path.of("src/test/python/make_peft_fixtures.py").toAbsolutePath();
    private static String python;

    @BeforeAll
    static void findPython() {
        String env = System.getenv("TRIBUTARY_PYTHON");
        String reason;
        if (env == null || env.isBlank()) {
            reason = "PeftLiveTest skipped: $TRIBUTARY_PYTHON is not set (a Python with peft, torch, transformers "
                    + "and safetensors)";
        } else if (!Files.isRegularFile(SCRIPT)) {
            reason = "PeftLiveTest skipped: " + SCRIPT + " not found (run from the merge module)";
        } else {
            try {
                Process p = new ProcessBuilder(env, "-c", "import peft, torch, transformers, safetensors")
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    python = env;
                    return;
                }
                reason = "PeftLiveTest skipped: " + env + " cannot import peft, torch, transformers and safetensors";
            } catch (IOException e) {
                reason = "PeftLiveTest skipped: cannot run " + env + ": " + e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reason = "PeftLiveTest skipped: interrupted";
            }
        }
        System.out.println(reason);
        Assumptions.abort(reason);
    }

    @Test
    void freshAdaptersMergeAndUnmergeAsPeftDoes(@TempDir Path tmp) throws Exception {
        Path cases = tmp.resolve("cases");
        Process p = new ProcessBuilder(python, SCRIPT.toString(), "--out", cases.toString(), "--seed", "11")
                .redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "PEFT did not finish");
        assertEquals(0, p.exitValue(), "PEFT failed: " + output);
        List<String> names = PeftParityTest.cases(cases);
        assertEquals(PeftParityTest.cases(), names, "the live cases are the committed ones");
        for (String name : names) {
            PeftParityTest.assertMatchesPeft(cases.resolve(name), Files.createDirectories(tmp.resolve("ours-" + name)));
        }
    }
}
