package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.worker.client.Progress;
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
        // A value out of its range or not among the allowed ones is bad usage (2); a task or partition that does not resolve is bad input (1).
        String[][] cases = {
            {"--strategy", "fedbuf", "2"}, {"--task", "synthetic-logreg", "1"}, {"--workers", "0", "2"}, {"--target", "1.5", "2"},
            {"--spread", "0.5", "2"}, {"--max-seconds", "0", "2"}, {"--partition", "dirichlet:-1", "1"},
            {"--codec", "int3", "2"}, {"--codec", "int4:group=0", "2"}
        };
        for (String[] c : cases) {
            CliRunner r = CliRunner.run("demo", "--out", out.toString(), c[0], c[1]);
            assertEquals(Integer.parseInt(c[2]), r.status(), String.join(" ", c) + ": " + r.err());
            String line = r.err().lines().findFirst().orElseThrow();
            assertTrue(line.startsWith("error: " + c[0]), String.join(" ", c) + " -> " + line);
            assertFalse(Files.exists(out), String.join(" ", c) + ": wrote " + out);
        }
    }

    @Test
    void theProgressLineCountsEveryWorkerThoseWaitingAndThoseGoneToo() throws Exception {
        assertEquals("workers 4: w0 12, w1 waiting, w2 exited after 3, w3 exited",
                DemoMonitor.workersColumn(new int[] {12, 0, 3, 0}, new boolean[] {true, true, false, false}));
        java.time.Duration t = java.time.Duration.ofMillis(100);
        Path log = Files.writeString(dir.resolve("worker-0.log"), String.join("\n",
                Progress.line(new Progress.Pushed(1, 0, 0.69, 32, 1200, 1, 0, false, null, t)),
                "coordinator 127.0.0.1:1 unavailable (UNAVAILABLE: io exception); retrying in 80 ms",
                Progress.line(new Progress.Pushed(2, 1, 0.6, 32, 1200, -1, 0, false, "staleness: FAILED_PRECONDITION: x", t)),
                Progress.line(new Progress.Pushed(3, 1, 0.5, 32, 1200, 4, 2, true, null, t)),
                Progress.line(new Progress.Pushed(4, 1, 0.5, 32, 1200, 5, 2, false, null, t)), ""));
        assertEquals(3, DemoMonitor.acceptedIn(log), Files.readString(log));
        assertEquals(0, DemoMonitor.acceptedIn(dir.resolve("no-such.log")));
    }

    @Test
    void theProgressLineSaysWhatCodedPushesSavedAgainstF32() {
        var m = dev.tributary.coordinator.http.PrometheusText.parse("""
                # TYPE tributary_update_wire_bytes_total counter
                tributary_update_wire_bytes_total{codec="int4"} 1000.0
                tributary_update_wire_bytes_total{codec="safetensors"} 8000.0
                # TYPE tributary_update_decoded_bytes_total counter
                tributary_update_decoded_bytes_total{codec="int4"} 7740.0
                tributary_update_decoded_bytes_total{codec="safetensors"} 8000.0
                """);
        assertEquals(" (int4: 7.7x fewer than f32)", DemoMonitor.saved(m));
        assertEquals("", DemoMonitor.saved(dev.tributary.coordinator.http.PrometheusText.parse(
                "tributary_update_wire_bytes_total{codec=\"safetensors\"} 8000.0\n")));
    }
}
