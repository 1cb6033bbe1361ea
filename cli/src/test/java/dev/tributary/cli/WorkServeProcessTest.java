package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.coordinator.http.PrometheusText;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real {@code serve} and {@code work} processes: the worker prints a line per update and, on Ctrl-C
 * (SIGINT), a summary, and exits 130 without a stack trace; the coordinator, killed with SIGKILL and
 * started again, serves {@code /metrics} that count what {@code /status} counts, recovered updates included.
 */
class WorkServeProcessTest {
    static final String TOKEN = "process-test-token-0123456789";
    static final Pattern LINE = Pattern.compile("update \\d+: from version \\d+, loss (\\d+\\.\\d{4}|n/a), \\d+ examples, "
            + "[\\d.]+ (B|KiB|MiB) pushed, (accepted|already accepted) at version \\d+ \\(staleness \\d+\\), \\d+\\.\\d\\d s");

    @TempDir
    Path dir;

    ChildJvm.Children children;

    @org.junit.jupiter.api.BeforeEach
    void children() {
        children = new ChildJvm.Children(dir);
    }

    @AfterEach
    void killAll() {
        children.killAll();
    }

    /** A child JVM running {@code tributary args}; SIGINT reset to its default when this JVM was started ignoring it. */
    Process spawn(String name, String... args) throws IOException {
        // A shell runs background jobs with SIGINT ignored, and a JVM keeps an ignored SIGINT ignored.
        return children.spawn(name, sigintIgnored() ? List.of("perl", "-e", "$SIG{INT} = 'DEFAULT'; exec @ARGV or die $!")
                : List.of(), args);
    }

    static boolean sigintIgnored() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("SigIgn:")) {
                return (Long.parseLong(l.substring(7).strip(), 16) & 2) != 0;
            }
        }
        return false;
    }

    Process serve(Path state, int port, int httpPort) throws IOException {
        return spawn("serve-" + children.count(), "serve", "--state", state.toString(), "--init", dir.resolve("init.safetensors").toString(),
                "--strategy", "fedasync", "--port", Integer.toString(port), "--http-port", Integer.toString(httpPort),
                "--tokens", dir.resolve("tokens").toString(), "--quiet");
    }

    String output(String name) throws IOException {
        return children.output(name);
    }

    @Test
    void ctrlCPrintsTheSummaryAndMetricsAgreeWithStatusAfterAKill() throws Exception {
        assertEquals(0, CliRunner.run("init", "--task", "synthetic-logreg", "--out", dir.resolve("init.safetensors").toString()).status());
        Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
        int port = CoordinatorCrashTest.freePort();
        int httpPort = CoordinatorCrashTest.freePort();
        Path state = dir.resolve("state");
        Process coordinator = serve(state, port, httpPort);
        CoordinatorCrashTest.awaitStatus(httpPort, coordinator);

        Process worker = spawn("work", "work", "--coordinator", "127.0.0.1:" + port, "--token", TOKEN, "--task", "synthetic-logreg",
                "--max-backoff", "0.3");
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(CoordinatorCrashTest.START_SECONDS);
        while (output("work").lines().filter(l -> l.startsWith("update ")).count() < 3) {
            assertTrue(worker.isAlive() && System.nanoTime() < until, "no three updates: " + output("work"));
            Thread.sleep(50);
        }
        new ProcessBuilder("kill", "-INT", Long.toString(worker.pid())).inheritIO().start().waitFor();
        assertTrue(worker.waitFor(30, TimeUnit.SECONDS), "the worker stops on SIGINT");
        String out = output("work");
        assertEquals(130, worker.exitValue(), out);
        assertFalse(out.contains("\tat ") || out.contains("Exception"), out);
        List<String> updates = out.lines().filter(l -> l.startsWith("update ")).toList();
        for (String l : updates) {
            assertTrue(LINE.matcher(l).matches(), l);
        }
        List<String> lines = out.lines().toList();
        int at = lines.indexOf(lines.stream().filter(l -> l.startsWith("stopped; ")).findFirst().orElseThrow(() ->
                new AssertionError("no summary in: " + out)));
        var first = Pattern.compile("stopped; (\\d+) updates pushed: (\\d+) accepted \\(\\d+ duplicates\\), 0 refused, \\d+ retries")
                .matcher(lines.get(at));
        assertTrue(first.matches(), lines.get(at));
        assertEquals(updates.size(), Integer.parseInt(first.group(1)), "every printed update is counted: " + out);
        assertTrue(lines.get(at + 1).matches("\\d+ examples, [\\d.]+ (B|KiB|MiB) up, [\\d.]+ (B|KiB|MiB) down, mean loss "
                + "\\d+\\.\\d{4}, \\d+\\.\\d s"), lines.get(at + 1));
        int accepted = Integer.parseInt(first.group(2));

        coordinator.destroyForcibly().waitFor();
        coordinator = serve(state, port, httpPort);
        JsonNode status = new ObjectMapper().readTree(CoordinatorCrashTest.awaitStatus(httpPort, coordinator));
        PrometheusText metrics = PrometheusText.parse(CoordinatorCrashTest.get(httpPort, "/metrics"));
        assertTrue(status.path("accepted").asLong() >= accepted, status + " after the worker saw " + accepted + " accepted");
        assertEquals(status.path("accepted").asDouble(), metrics.value("tributary_updates_accepted_total", -1), status.toString());
        assertEquals(status.path("version").asDouble(), metrics.value("tributary_model_version", -1), status.toString());
        assertEquals(status.path("rejected").asDouble(), metrics.value("tributary_updates_refused_total", -1), status.toString());
        // The start-up line may reach the output file a little after /status answers.
        String recovered = status.path("accepted").asLong() + " updates recovered";
        String serveOut = "serve-" + (children.count() - 1);
        long shown = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!output(serveOut).contains(recovered) && System.nanoTime() < shown) {
            Thread.sleep(50);
        }
        assertTrue(output(serveOut).contains(recovered), output(serveOut));
    }
}
