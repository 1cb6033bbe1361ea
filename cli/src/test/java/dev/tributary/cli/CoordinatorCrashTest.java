package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.service.Assembly;
import dev.tributary.store.Failpoints;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes, for every strategy: a coordinator is killed with SIGKILL at random moments, or halts
 * itself at a failpoint of the write path (before and after a log write, an fsync, a checkpoint's rename,
 * a publish, an acknowledgment), while three workers push, and is restarted over the same state each time.
 * Afterwards every update id any worker recorded as acknowledged is in the coordinator's log exactly once,
 * versions never went back, and the model equals a replay of the whole log from scratch. Then again with the
 * log compacted after every checkpoint and the compaction's failpoints armed.
 */
class CoordinatorCrashTest {
    static final String TOKEN = "crash-test-token-0123456789";
    static final int WORKERS = 3;
    static final int UPDATES = 25;
    static final List<String> FAILPOINTS = List.of("log.append", "log.write", "log.written", "log.force", "log.forced",
            "checkpoint.write", "checkpoint.rename", "checkpoint.renamed", "publish", "ack");

    @TempDir
    Path dir;

    final List<Process> processes = new ArrayList<>();

    @AfterEach
    void killAll() {
        for (Process p : processes) {
            p.destroyForcibly();
        }
    }

    Process spawn(String name, String... args) throws IOException {
        return spawnWith(name, null, args);
    }

    Process spawnWith(String name, String failpoint, String... args) throws IOException {
        List<String> cmd = ChildJvm.command(failpoint == null ? List.of("-Xmx512m")
                : List.of("-Xmx512m", "-Dtributary.failpoints=" + failpoint), args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".out").toFile()).start();
        processes.add(p);
        return p;
    }

    /** Ports handed out in this JVM: the system may offer a just-closed port again before a child binds it. */
    private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

    /** How long a child JVM may take to answer its first request on a loaded machine. */
    static final long START_SECONDS = 180;

    static int freePort() throws IOException {
        while (true) {
            try (ServerSocket s = new ServerSocket(0)) {
                if (HANDED_OUT.add(s.getLocalPort())) {
                    return s.getLocalPort();
                }
            }
        }
    }

    int serves;

    Process serve(String strategy, Path state, Path init, int port, int httpPort, String failpoint) throws IOException {
        return spawnWith("serve-" + serves++, failpoint, "serve", "--state", state.toString(), "--init", init.toString(),
                "--strategy", strategy, "--config", dir.resolve("config.yaml").toString(),
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--http-port", Integer.toString(httpPort),
                "--tokens", dir.resolve("tokens").toString());
    }

    static String config(String strategy) {
        return switch (strategy) {
            case "fedbuff" -> "strategy: {buffer_size: 3}\ncheckpoint_every: 3\n";
            case "fedavg" -> "strategy: {min_workers: 1, workers: 3, round_deadline_s: 0.3}\ncheckpoint_every: 2\ntick_millis: 50\n";
            case "diloco" -> "strategy: {workers: 3, min_workers: 1, round_deadline_s: 0.3}\ncheckpoint_every: 2\ntick_millis: 50\n";
            default -> "checkpoint_every: 5\n";
        };
    }

    static String get(int port, String path) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }

    static String awaitStatus(int port, Process coordinator) throws InterruptedException {
        String status = awaitStatusOrExit(port, coordinator);
        if (status == null) {
            throw new AssertionError("the coordinator exited with status " + coordinator.exitValue() + " before it came up");
        }
        return status;
    }

    /** The coordinator's first {@code /status}, or null when it exits first (one armed with a failpoint may). */
    static String awaitStatusOrExit(int port, Process coordinator) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (System.nanoTime() < until) {
            if (!coordinator.isAlive()) {
                return null;
            }
            try {
                return get(port, "/status");
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the coordinator did not come up in " + START_SECONDS + " s");
    }

    static long field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":(\\d+)").matcher(json);
        assertTrue(m.find(), json);
        return Long.parseLong(m.group(1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedasync", "fedbuff", "fedavg", "diloco"})
    void everyAcknowledgedUpdateSurvivesKillsAndFailpointsExactlyOnce(String strategy) throws Exception {
        crashAndCheck(strategy, false);
    }

    /**
     * The same with the log compacted behind the checkpoints after every checkpoint ({@code compact_log_bytes:
     * 1}), the compaction's own failpoints among those armed: every acknowledged id is still listed exactly once,
     * the compacted ids included, and the coordinator recovers.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fedasync", "fedbuff"})
    void everyAcknowledgedUpdateSurvivesKillsAndFailpointsWhileTheLogIsCompacted(String strategy) throws Exception {
        crashAndCheck(strategy, true);
    }

    private void crashAndCheck(String strategy, boolean compact) throws Exception {
        List<String> failpoints = compact ? List.of("log.append", "log.force", "log.forced", "checkpoint.rename", "compact.write",
                "compact.rename", "compact.renamed", "compact.punched", "compact.merged", "publish", "ack") : FAILPOINTS;
        Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
        Files.writeString(dir.resolve("config.yaml"), config(strategy) + (compact ? "compact_log_bytes: 1\n" : ""));
        Path init = dir.resolve("init.safetensors");
        assertEquals(0, Main.run(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                "init", "--task", "synthetic-logreg", "--out", init.toString(), "--seed", "1"));
        Path state = dir.resolve("state");
        int port = freePort();
        int httpPort = freePort();
        Process coordinator = serve(strategy, state, init, port, httpPort, null);
        awaitStatus(httpPort, coordinator);

        List<Process> workers = new ArrayList<>();
        for (int i = 0; i < WORKERS; i++) {
            workers.add(spawn("worker-" + i, "work", "--coordinator", "127.0.0.1:" + port, "--token", TOKEN,
                    "--task", "synthetic-logreg", "--updates", Integer.toString(UPDATES), "--worker", Integer.toString(i),
                    "--workers", Integer.toString(WORKERS), "--seed", Integer.toString(i), "--max-backoff", "0.3",
                    "--ack-log", dir.resolve("acks-" + i + ".txt").toString()));
        }
        Random random = new Random(strategy.hashCode());
        int kills = 0;
        int halts = 0;
        long lastVersion = 0;
        for (int k = 0; k < 6 && workers.stream().anyMatch(Process::isAlive); k++) {
            if (k % 2 == 0) {
                Thread.sleep(300 + random.nextInt(900));
                coordinator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                kills++;
            } else {
                // Restarted with a failpoint armed: it halts itself there (or is killed if the run never gets there).
                coordinator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                String fp = failpoints.get(random.nextInt(failpoints.size())) + "@" + (1 + random.nextInt(compact ? 2 : 4));
                coordinator = serve(strategy, state, init, port, httpPort, fp);
                awaitStatusOrExit(httpPort, coordinator);
                if (coordinator.waitFor(8, TimeUnit.SECONDS)) {
                    assertEquals(Failpoints.EXIT, coordinator.exitValue(), "halted at " + fp);
                    halts++;
                } else {
                    coordinator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    kills++;
                }
            }
            coordinator = serve(strategy, state, init, port, httpPort, null);
            long v = field(awaitStatus(httpPort, coordinator), "version");
            assertTrue(v >= lastVersion, "version went back from " + lastVersion + " to " + v);
            lastVersion = v;
        }
        for (Process w : workers) {
            assertTrue(w.waitFor(60, TimeUnit.SECONDS), "a worker did not finish");
            assertEquals(0, w.exitValue(), "worker exit status");
        }
        String status = get(httpPort, "/status");
        coordinator.destroy();
        assertTrue(coordinator.waitFor(30, TimeUnit.SECONDS));

        StringWriter logOut = new StringWriter();
        assertEquals(0, Main.run(new PrintWriter(logOut), new PrintWriter(new StringWriter()), "log", "--state", state.toString()));
        List<String> logged = logOut.toString().lines().toList();
        Map<String, Integer> counts = new HashMap<>();
        logged.forEach(id -> counts.merge(id, 1, Integer::sum));
        assertEquals(logged.size(), counts.size(), "an update id appears twice in the log");
        Set<String> acked = new HashSet<>();
        for (int i = 0; i < WORKERS; i++) {
            List<String> acks = Files.readAllLines(dir.resolve("acks-" + i + ".txt"));
            assertEquals(UPDATES, acks.size(), "worker " + i + " acknowledged updates");
            acked.addAll(acks);
        }
        assertEquals(WORKERS * UPDATES, acked.size(), "acknowledged ids are distinct");
        assertEquals(acked, counts.keySet(), "every logged update was eventually acknowledged");
        for (String id : acked) {
            assertEquals(1, counts.getOrDefault(id, 0), "acknowledged update " + id + " in the log");
        }
        assertEquals(logged.size(), field(status, "accepted"), "updates in the model vs. the log: " + status);
        assertTrue(kills + halts >= 4, "killed " + kills + " times, halted " + halts);
        assertTrue(field(status, "version") >= lastVersion);
        if (compact) {
            Path log = state.resolve(dev.tributary.store.StateDirectory.LOG);
            assertTrue(dev.tributary.store.CompactedLog.end(log) > 0, "the log was compacted");
            dev.tributary.coordinator.CoordinatorConfig cc = dev.tributary.coordinator.CoordinatorConfig.fromYaml(strategy,
                    dir.resolve("config.yaml"));
            try (Assembly back = Assembly.open(state, dev.tributary.tensor.Safetensors.readAll(init), cc, new CoordinatorMetrics(),
                    w -> { })) {
                assertEquals(field(status, "version"), back.version());
                assertEquals(logged.size(), back.accepted());
            }
            return;
        }
        // The model equals a replay of the whole log from scratch, without any checkpoint.
        Path copy = dir.resolve("replay");
        Files.createDirectories(copy);
        Files.copy(state.resolve("updates.log"), copy.resolve("updates.log"));
        dev.tributary.coordinator.CoordinatorConfig cc = dev.tributary.coordinator.CoordinatorConfig.fromYaml(strategy,
                dir.resolve("config.yaml"));
        dev.tributary.tensor.TensorMap initial = dev.tributary.tensor.Safetensors.readAll(init);
        try (Assembly withCheckpoints = Assembly.open(state, initial, cc, new CoordinatorMetrics(), w -> { });
                Assembly fromLog = Assembly.open(copy, initial, cc, new CoordinatorMetrics(), w -> { })) {
            assertEquals(withCheckpoints.version(), fromLog.version());
            assertEquals(withCheckpoints.modelSha256(), fromLog.modelSha256(), "the model is the replay of the log");
            assertEquals(field(status, "version"), fromLog.version());
        }
        long retries = 0;
        for (int i = 0; i < WORKERS; i++) {
            Matcher m = Pattern.compile("(\\d+) retries").matcher(Files.readString(dir.resolve("worker-" + i + ".out")));
            assertTrue(m.find(), "worker " + i + " printed its summary");
            retries += Long.parseLong(m.group(1));
        }
        assertTrue(retries > 0, "the kills hit the workers while they were pushing");
    }
}
