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
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes: a coordinator is killed with SIGKILL at random moments while three workers push,
 * and restarted over the same state each time. Afterwards every update id any worker recorded as
 * acknowledged is in the coordinator's log exactly once, and the model holds exactly the logged updates.
 */
class CoordinatorCrashTest {
    static final String TOKEN = "crash-test-token-0123456789";
    static final int WORKERS = 3;
    static final int UPDATES = 60;

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
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m",
                "-XX:TieredStopAtLevel=1", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".out").toFile()).start();
        processes.add(p);
        return p;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    Process serve(Path state, Path init, int port, int httpPort) throws IOException {
        return spawn("serve", "serve", "--state", state.toString(), "--init", init.toString(), "--strategy", "fedasync",
                "--host", "127.0.0.1", "--port", Integer.toString(port), "--http-port", Integer.toString(httpPort),
                "--tokens", dir.resolve("tokens").toString());
    }

    static String get(int port, String path) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }

    static String awaitStatus(int port, Process coordinator) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < until && coordinator.isAlive()) {
            try {
                return get(port, "/status");
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the coordinator did not come up");
    }

    static long field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\":(\\d+)").matcher(json);
        assertTrue(m.find(), json);
        return Long.parseLong(m.group(1));
    }

    @Test
    void everyAcknowledgedUpdateSurvivesRepeatedKillsExactlyOnce() throws Exception {
        Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
        Path init = dir.resolve("init.safetensors");
        assertEquals(0, Main.run(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()),
                "init", "--task", "synthetic-logreg", "--out", init.toString(), "--seed", "1"));
        Path state = dir.resolve("state");
        int port = freePort();
        int httpPort = freePort();
        Process coordinator = serve(state, init, port, httpPort);
        awaitStatus(httpPort, coordinator);

        List<Process> workers = new ArrayList<>();
        for (int i = 0; i < WORKERS; i++) {
            workers.add(spawn("worker-" + i, "work", "--coordinator", "127.0.0.1:" + port, "--token", TOKEN,
                    "--task", "synthetic-logreg", "--updates", Integer.toString(UPDATES), "--worker", Integer.toString(i),
                    "--workers", Integer.toString(WORKERS), "--seed", Integer.toString(i), "--max-backoff", "0.5",
                    "--ack-log", dir.resolve("acks-" + i + ".txt").toString()));
        }
        Random random = new Random(42);
        int kills = 0;
        for (int k = 0; k < 4 && workers.stream().anyMatch(Process::isAlive); k++) {
            Thread.sleep(300 + random.nextInt(1200));
            coordinator.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            kills++;
            coordinator = serve(state, init, port, httpPort);
            awaitStatus(httpPort, coordinator);
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
        assertTrue(kills >= 3, "killed " + kills + " times");
        long retries = 0;
        for (int i = 0; i < WORKERS; i++) {
            Matcher m = Pattern.compile("(\\d+) retries").matcher(Files.readString(dir.resolve("worker-" + i + ".out")));
            assertTrue(m.find(), "worker " + i + " printed its summary");
            retries += Long.parseLong(m.group(1));
        }
        assertTrue(retries > 0, "the kills hit the workers while they were pushing");
    }
}
