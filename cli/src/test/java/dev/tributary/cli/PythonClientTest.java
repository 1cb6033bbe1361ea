package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Python worker client ({@code clients/python}) against a real {@code serve} process: its own unit
 * tests pass, and its example trains a torch {@code nn.Linear} on the synthetic-logreg layout through a
 * coordinator that is killed with SIGKILL once mid-run and restarted over the same state. Every update
 * the client recorded as acknowledged is in the coordinator's log exactly once, and nothing else is.
 *
 * <p>Runs with the interpreter named by {@code $TRIBUTARY_PYTHON_CLIENT} (grpcio, grpcio-tools, protobuf,
 * numpy, torch, safetensors; .ci/run makes one); skipped, saying why, when it is unset or lacks them.
 */
class PythonClientTest {
    static final String TOKEN = "python-client-token-0123456789";
    static final int UPDATES = 24;
    static final String IMPORTS = "import grpc, grpc_tools, google.protobuf, numpy, torch, safetensors";

    private static String python;
    private static Path client;

    @TempDir
    Path dir;

    final List<Process> processes = new ArrayList<>();

    @BeforeAll
    static void findPython() throws Exception {
        client = clientFolder();
        String env = System.getenv("TRIBUTARY_PYTHON_CLIENT");
        if (env == null || env.isBlank()) {
            skip("TRIBUTARY_PYTHON_CLIENT is not set (an interpreter with grpcio, grpcio-tools, protobuf, numpy, "
                    + "torch and safetensors; .ci/run makes one in .tributary/pyclient)");
        }
        Process p;
        try {
            p = new ProcessBuilder(env, "-c", IMPORTS).redirectErrorStream(true).start();
        } catch (IOException e) {
            skip("TRIBUTARY_PYTHON_CLIENT=" + env + " does not run: " + e.getMessage());
            return;
        }
        String out = new String(p.getInputStream().readAllBytes()).strip();
        if (!p.waitFor(180, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            List<String> lines = out.lines().toList();
            skip("TRIBUTARY_PYTHON_CLIENT=" + env + " cannot " + IMPORTS + ": "
                    + (lines.isEmpty() ? "timed out" : lines.getLast()));
        }
        python = env;
    }

    private static void skip(String reason) {
        System.out.println("PythonClientTest skipped: " + reason);
        Assumptions.abort(reason);
    }

    /** {@code clients/python} of this checkout, found from the module's folder upwards. */
    private static Path clientFolder() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path c = p.resolve("clients").resolve("python");
            if (Files.isDirectory(c.resolve("tributary_client"))) {
                return c;
            }
        }
        throw new IllegalStateException("clients/python not found above " + Path.of("").toAbsolutePath());
    }

    @AfterEach
    void killAll() {
        processes.forEach(Process::destroyForcibly);
    }

    private Process pythonProcess(String name, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(python));
        cmd.addAll(List.of(args));
        ProcessBuilder b = new ProcessBuilder(cmd).directory(client.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".out").toFile());
        Map<String, String> env = b.environment();
        env.put("PYTHONPATH", client.toString());
        env.put("PYTHONUNBUFFERED", "1");
        env.put("PYTHONDONTWRITEBYTECODE", "1");
        Process p = b.start();
        processes.add(p);
        return p;
    }

    private int serves;

    private Process serve(String strategy, Path state, Path init, int port, int httpPort) throws IOException {
        List<String> cmd = ChildJvm.command(List.of("-Xmx512m"),
                "serve", "--state", state.toString(), "--init", init.toString(), "--strategy", strategy,
                "--config", dir.resolve("config.yaml").toString(), "--host", "127.0.0.1", "--port", Integer.toString(port),
                "--http-port", Integer.toString(httpPort), "--tokens", dir.resolve("tokens").toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("serve-" + serves++ + ".out").toFile()).start();
        processes.add(p);
        return p;
    }

    private String output(String name) throws IOException {
        Path f = dir.resolve(name + ".out");
        return Files.exists(f) ? Files.readString(f) : "(no output)";
    }

    @Test
    void theClientsUnitTestsPass() throws Exception {
        Process check = new ProcessBuilder(python, "-c", "import pytest").redirectErrorStream(true).start();
        check.getInputStream().readAllBytes();
        if (!check.waitFor(60, TimeUnit.SECONDS) || check.exitValue() != 0) {
            skip("TRIBUTARY_PYTHON_CLIENT=" + python + " has no pytest");
        }
        Process p = pythonProcess("pytest", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests");
        assertTrue(p.waitFor(600, TimeUnit.SECONDS), "pytest did not finish:\n" + output("pytest"));
        String out = output("pytest");
        System.out.println("clients/python: " + out.strip().lines().reduce((a, b) -> b).orElse(""));
        assertEquals(0, p.exitValue(), "pytest in clients/python:\n" + out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedasync", "fedavg"})
    void everyAcknowledgedUpdateIsLoggedOnceThroughAKill(String strategy) throws Exception {
        Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
        Files.writeString(dir.resolve("config.yaml"), CoordinatorCrashTest.config(strategy));
        Path init = dir.resolve("init.safetensors");
        assertEquals(0, Main.run(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                "init", "--task", "synthetic-logreg", "--out", init.toString(), "--seed", "1"));
        Path state = dir.resolve("state");
        Path acks = dir.resolve("acks.txt");
        int port = CoordinatorCrashTest.freePort();
        int httpPort = CoordinatorCrashTest.freePort();
        Process coordinator = serve(strategy, state, init, port, httpPort);
        CoordinatorCrashTest.awaitStatus(httpPort, coordinator);

        Process worker = pythonProcess("client", "examples/synthetic_logreg.py", "--coordinator", "127.0.0.1:" + port,
                "--token-file", dir.resolve("tokens").toString(), "--updates", Integer.toString(UPDATES),
                "--ack-log", acks.toString(), "--max-backoff", "0.5", "--seed", "1", "--codec", codec(strategy));
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (lines(acks).size() < UPDATES / 3) {
            if (!worker.isAlive() || System.nanoTime() > until) {
                fail("the client did not get " + UPDATES / 3 + " updates acknowledged:\n" + output("client"));
            }
            Thread.sleep(50);
        }
        long before = CoordinatorCrashTest.field(CoordinatorCrashTest.get(httpPort, "/status"), "version");
        coordinator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        int ackedAtKill = lines(acks).size();
        Thread.sleep(300);
        coordinator = serve(strategy, state, init, port, httpPort);
        long after = CoordinatorCrashTest.field(CoordinatorCrashTest.awaitStatus(httpPort, coordinator), "version");
        assertTrue(after >= before, "version went back from " + before + " to " + after);

        assertTrue(worker.waitFor(300, TimeUnit.SECONDS), "the client did not finish:\n" + output("client"));
        assertEquals(0, worker.exitValue(), "the client's exit status:\n" + output("client"));
        String status = CoordinatorCrashTest.get(httpPort, "/status");
        String metrics = CoordinatorCrashTest.get(httpPort, "/metrics");
        coordinator.destroy();
        assertTrue(coordinator.waitFor(30, TimeUnit.SECONDS));

        List<String> acked = lines(acks);
        assertEquals(UPDATES, acked.size(), "acknowledgments the client recorded:\n" + output("client"));
        assertEquals(UPDATES, new HashSet<>(acked).size(), "acknowledged ids are distinct: " + acked);
        StringWriter logOut = new StringWriter();
        assertEquals(0, Main.run(new PrintWriter(logOut), new PrintWriter(new StringWriter()), "log", "--state", state.toString()));
        List<String> logged = logOut.toString().lines().toList();
        assertEquals(new HashSet<>(acked), new HashSet<>(logged), "the log holds exactly the acknowledged ids");
        assertEquals(UPDATES, logged.size(), "no id is logged twice: " + logged);
        assertEquals(UPDATES, CoordinatorCrashTest.field(status, "accepted"), status);
        assertTrue(CoordinatorCrashTest.field(status, "version") > 0 && CoordinatorCrashTest.field(status, "version") >= after,
                "the version advanced: " + status);
        // The client's 16-bit pushes were decoded by the coordinator's codec module (counted under their codec).
        assertTrue(Pattern.compile("tributary_update_wire_bytes_total\\{codec=\"" + codec(strategy) + "\"[^}]*} [1-9]")
                .matcher(metrics).find(), "coded pushes counted in /metrics:\n" + metrics);
        Matcher m = Pattern.compile(UPDATES + " updates acknowledged \\((\\d+) duplicates\\), (\\d+) refused, (\\d+) retries")
                .matcher(output("client"));
        assertTrue(m.find(), "the client printed its summary:\n" + output("client"));
        System.out.println("PythonClientTest " + strategy + ": " + m.group() + "; killed at version " + before
                + ", restarted at " + after + ", " + status);
        // A client with updates still to push while the coordinator was down must have retried (one that was
        // already done has nothing to retry: a fast machine may get there before the kill).
        assertTrue(ackedAtKill == UPDATES || Long.parseLong(m.group(3)) > 0, "the kill hit the client (" + ackedAtKill
                + " acknowledged at the kill):\n" + output("client"));
    }

    /** The codec the client pushes with in each case: both 16-bit codecs are tried against the real decoder. */
    private static String codec(String strategy) {
        return strategy.equals("fedasync") ? "bf16" : "f16";
    }

    private static List<String> lines(Path f) throws IOException {
        return Files.exists(f) ? Files.readAllLines(f).stream().filter(l -> !l.isBlank()).toList() : List.of();
    }
}
