package dev.tributary.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.protocol.Capabilities;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.worker.client.CoordinatorClient;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Watches a running coordinator for the demo: its status and metrics over HTTP, and the model itself
 * (pulled like a worker pulls it) evaluated on the test set whenever the version changes.
 */
final class DemoMonitor implements AutoCloseable {
    /** How the run ended. */
    record Outcome(boolean reached, double accuracy, long version, long accepted, double seconds, List<double[]> curve) {}

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final int httpPort;
    private final ManagedChannel channel;
    private final CoordinatorClient client;
    private final Task task;
    private final Path modelDir;
    private final ObjectMapper json = new ObjectMapper();

    DemoMonitor(int httpPort, String grpcTarget, String token, Task task, Path modelDir) {
        this.httpPort = httpPort;
        this.channel = NettyChannelBuilder.forTarget(grpcTarget).usePlaintext().maxInboundMessageSize(16 << 20).build();
        this.client = new CoordinatorClient(channel, token);
        this.task = task;
        this.modelDir = modelDir;
    }

    /** Waits until the coordinator answers on HTTP, failing early when its process has died. */
    void awaitUp(Process coordinator, Path log, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (!coordinator.isAlive()) {
                throw new UserException("the coordinator exited with status " + coordinator.exitValue() + ": "
                        + lastError(log));
            }
            if (status() != null) {
                return;
            }
            Thread.sleep(250);
        }
        throw new UserException("the coordinator did not answer on port " + httpPort + " within " + seconds + " s");
    }

    /** The last line a process wrote that says what went wrong (its "error: …" line), or where its log is. */
    static String lastError(Path log) {
        try {
            List<String> lines = java.nio.file.Files.readAllLines(log);
            for (String l : lines.reversed()) {
                if (l.startsWith("error: ")) {
                    return l.substring(7);
                }
            }
            for (String l : lines.reversed()) {
                if (!l.isBlank()) {
                    return l.strip() + " (log: " + log + ")";
                }
            }
        } catch (IOException e) {
            // fall through
        }
        return "see " + log;
    }

    Outcome run(PrintWriter out, double target, int maxSeconds, List<Process> processes, List<Path> logs)
            throws IOException, InterruptedException {
        String workerId = client.register("demo-monitor", Capabilities.newBuilder().setDeviceKind("monitor").build()).getWorkerId();
        long start = System.nanoTime();
        List<double[]> curve = new ArrayList<>();
        curve.add(new double[] {0, evaluate(Safetensors.readAll(modelFile(workerId, -1)))});
        long lastVersion = 0;
        double accuracy = curve.getFirst()[1];
        long accepted = 0;
        boolean terminal = ProgressBar.isTerminal();
        long lastPrint = 0;
        while (true) {
            Thread.sleep(1000);
            double seconds = (System.nanoTime() - start) / 1e9;
            for (int i = 0; i < processes.size(); i++) {
                Process p = processes.get(i);
                if (!p.isAlive()) {
                    throw new UserException((i == 0 ? "the coordinator" : "worker " + (i - 1)) + " exited early (status "
                            + p.exitValue() + "): " + lastError(logs.get(i)));
                }
            }
            JsonNode st = status();
            if (st == null) {
                continue;
            }
            long version = st.path("version").asLong();
            accepted = st.path("accepted").asLong();
            if (version != lastVersion) {
                accuracy = evaluate(Safetensors.readAll(modelFile(workerId, lastVersion)));
                lastVersion = version;
                curve.add(new double[] {seconds, accuracy});
            }
            Map<String, Double> m = metrics();
            String line = String.format(Locale.ROOT,
                    "%6.1fs  version %4d  accuracy %.4f  updates %d (refused %d)  staleness mean %.2f  bytes up %s down %s  workers %d",
                    seconds, version, accuracy, accepted, st.path("rejected").asLong(),
                    ratio(m.get("tributary_update_staleness_sum"), m.get("tributary_update_staleness_count")),
                    Human.bytes(m.getOrDefault("tributary_bytes_in_bytes_total", 0.0).longValue()),
                    Human.bytes(m.getOrDefault("tributary_bytes_out_bytes_total", 0.0).longValue()),
                    Math.max(0, st.path("workers").asInt() - 1));
            if (terminal) {
                System.err.print("\r" + line + "\u001b[K");
                System.err.flush();
            } else if (seconds - lastPrint >= 5) {
                out.println(line);
                out.flush();
                lastPrint = (long) seconds;
            }
            boolean reached = accuracy >= target;
            if (reached || seconds >= maxSeconds) {
                if (terminal) {
                    System.err.println();
                } else {
                    out.println(line);
                }
                return new Outcome(reached, accuracy, lastVersion, accepted, seconds, curve);
            }
        }
    }

    private Path modelFile(String workerId, long known) throws IOException {
        CoordinatorClient.Pulled p = client.pull(workerId, known, modelDir);
        Path f = p.file();
        try (var old = Files.list(modelDir)) {
            for (Path q : old.toList()) {
                if (!q.equals(f) && q.getFileName().toString().endsWith(".safetensors")) {
                    Files.deleteIfExists(q);
                }
            }
        }
        return f;
    }

    private double evaluate(TensorMap weights) {
        return task.evaluate(weights).getOrDefault("accuracy", Double.NaN);
    }

    private static double ratio(Double sum, Double count) {
        return sum == null || count == null || count == 0 ? 0 : sum / count;
    }

    private JsonNode status() {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/status"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? json.readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Prometheus samples without labels, by metric name. */
    private Map<String, Double> metrics() {
        return metrics(http, httpPort);
    }

    /** The JSON of GET /status on {@code port}, or null when it does not answer 200 with JSON. */
    static JsonNode status(HttpClient http, int port) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/status"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? new ObjectMapper().readTree(r.body()) : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** GET /metrics on {@code port}, parsed by {@link #parseMetrics}; empty when it does not answer. */
    static Map<String, Double> metrics(HttpClient http, int port) {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return parseMetrics(r.body());
        } catch (IOException e) {
            return new java.util.HashMap<>();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new java.util.HashMap<>();
        }
    }

    /** Prometheus text exposition by metric name, the samples of each name summed over their labels. */
    static Map<String, Double> parseMetrics(String body) {
        Map<String, Double> m = new java.util.HashMap<>();
        for (String line : body.split("\n")) {
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            int sp = line.lastIndexOf(' ');
            if (sp <= 0) {
                continue;
            }
            String name = line.substring(0, sp);
            if (name.contains("{")) {
                name = name.substring(0, name.indexOf('{'));
            }
            try {
                m.merge(name, Double.parseDouble(line.substring(sp + 1)), Double::sum);
            } catch (NumberFormatException ignored) {
                // a sample we do not read
            }
        }
        return m;
    }

    @Override
    public void close() {
        channel.shutdownNow();
    }
}
