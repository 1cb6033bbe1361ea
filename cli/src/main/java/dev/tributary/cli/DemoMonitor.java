package dev.tributary.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.coordinator.http.PrometheusText;
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

    /**
     * Watches until the target accuracy or the time limit. The curve gets a point every second (the accuracy of
     * the newest version then), so a version that stays a while is a flat stretch, not a single point. A worker
     * that exits is reported once and shown as exited; the run goes on while any worker is left.
     */
    Outcome run(PrintWriter out, double target, int maxSeconds, List<Process> processes, List<Path> logs)
            throws IOException, InterruptedException {
        String workerId = client.register("demo-monitor", Capabilities.newBuilder().setDeviceKind("monitor").build()).getWorkerId();
        long start = System.nanoTime();
        List<double[]> curve = new ArrayList<>();
        out.println("demo: evaluating the initial model on the test set (the first point of the curve)…");
        out.flush();
        curve.add(new double[] {0, evaluate(Safetensors.readAll(modelFile(workerId, -1)))});
        long lastVersion = 0;
        double accuracy = curve.getFirst()[1];
        long accepted = 0;
        boolean terminal = ProgressBar.isTerminal();
        long lastPrint = -5; // the first line at once
        int workers = processes.size() - 1;
        boolean[] exited = new boolean[workers];
        while (true) {
            Thread.sleep(1000);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (!processes.getFirst().isAlive()) {
                throw new UserException("the coordinator exited early (status " + processes.getFirst().exitValue() + "): "
                        + lastError(logs.getFirst()));
            }
            int[] updates = new int[workers];
            boolean[] alive = new boolean[workers];
            for (int i = 0; i < workers; i++) {
                Process p = processes.get(i + 1);
                alive[i] = p.isAlive();
                updates[i] = acceptedIn(logs.get(i + 1));
                if (!alive[i] && !exited[i]) {
                    exited[i] = true;
                    if (terminal) {
                        System.err.println();
                    }
                    out.println("demo: worker " + i + " exited (status " + p.exitValue() + "): " + lastError(logs.get(i + 1)));
                    out.flush();
                }
            }
            if (workers > 0 && allTrue(exited)) {
                throw new UserException("every worker exited; the last: " + lastError(logs.getLast()));
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
            }
            curve.add(new double[] {seconds, accuracy});
            PrometheusText m = metrics();
            String line = String.format(Locale.ROOT,
                    "%6.1fs  version %4d  accuracy %.4f  updates %d (refused %d)  staleness mean %.2f  bytes up %s%s down %s  %s",
                    seconds, version, accuracy, accepted, st.path("rejected").asLong(),
                    ratio(m.value("tributary_update_staleness_sum", 0), m.value("tributary_update_staleness_count", 0)),
                    Human.bytes((long) m.value("tributary_update_received_bytes_total", 0)), saved(m),
                    Human.bytes((long) m.value("tributary_model_sent_bytes_total", 0)),
                    workersColumn(updates, alive));
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

    /**
     * What coded pushes saved, from the coordinator's counters of bytes on the wire and bytes decoded (f32), e.g.
     * {@code  (int4: 7.7x fewer than f32)}; empty while every push is plain safetensors.
     */
    static String saved(PrometheusText m) {
        StringBuilder b = new StringBuilder();
        for (PrometheusText.Sample s : m.samples()) {
            if (!s.name().equals("tributary_update_wire_bytes_total")) {
                continue;
            }
            String codec = s.labels().getOrDefault("codec", "");
            if (codec.equals("safetensors") || s.value() <= 0) {
                continue;
            }
            double decoded = 0;
            for (PrometheusText.Sample d : m.samples()) {
                if (d.name().equals("tributary_update_decoded_bytes_total") && codec.equals(d.labels().get("codec"))) {
                    decoded += d.value();
                }
            }
            b.append(b.isEmpty() ? " (" : ", ").append(String.format(Locale.ROOT, "%s: %.1fx fewer than f32", codec, decoded / s.value()));
        }
        return b.isEmpty() ? "" : b.append(')').toString();
    }

    private static boolean allTrue(boolean[] b) {
        for (boolean x : b) {
            if (!x) {
                return false;
            }
        }
        return true;
    }

    /**
     * Every worker, in order: its accepted updates, {@code waiting} while it has none, {@code exited} once its
     * process is gone, e.g. {@code workers 4: w0 12, w1 9, w2 waiting, w3 exited after 2}.
     */
    static String workersColumn(int[] accepted, boolean[] alive) {
        StringBuilder b = new StringBuilder("workers ").append(accepted.length).append(':');
        for (int i = 0; i < accepted.length; i++) {
            b.append(i == 0 ? " w" : ", w").append(i).append(' ');
            if (!alive[i]) {
                b.append("exited").append(accepted[i] > 0 ? " after " + accepted[i] : "");
            } else {
                b.append(accepted[i] > 0 ? Integer.toString(accepted[i]) : "waiting");
            }
        }
        return b.toString();
    }

    /** The updates a worker's log says were accepted (its progress lines). */
    static int acceptedIn(Path log) {
        try (var lines = Files.lines(log)) {
            return (int) lines.filter(l -> l.startsWith("update ") && l.contains(" accepted at version ")).count();
        } catch (IOException | java.io.UncheckedIOException e) {
            return 0;
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

    private static double ratio(double sum, double count) {
        return count == 0 ? 0 : sum / count;
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

    /** What {@code /metrics} serves now (nothing when it does not answer). */
    private PrometheusText metrics() {
        try {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/metrics"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
            return PrometheusText.parse(r.statusCode() == 200 ? r.body() : "");
        } catch (IOException | IllegalArgumentException e) {
            return PrometheusText.parse("");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return PrometheusText.parse("");
        }
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

    /**
     * Prometheus text by metric name, the samples of each name summed over their labels; lines it cannot
     * read are skipped (a monitor reads what it can, unlike {@link PrometheusText}).
     */
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
