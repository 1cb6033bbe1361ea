package dev.tributary.coordinator.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.tributary.coordinator.Coordinator;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * Plain HTTP beside the gRPC port: {@code GET /status} answers JSON
 * {@code {"version", "accepted", "rejected", "workers", "strategy"}}, {@code GET /metrics} the Prometheus
 * text exposition. Read-only; it exposes counters, never weights.
 */
public final class StatusServer implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService executor;

    private StatusServer(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Listens on {@code address} (port 0 picks a free one). */
    public static StatusServer start(InetSocketAddress address, Coordinator coordinator) throws IOException {
        return start(address, () -> statusJson(coordinator), () -> coordinator.metrics().scrape());
    }

    /**
     * Listens on {@code address} (port 0 picks a free one) and answers {@code GET /status} with
     * {@code statusJson} and {@code GET /metrics} with {@code metrics} (the Prometheus text), read per request:
     * the same server for every service that has a status (the coordinator, the learner).
     */
    public static StatusServer start(InetSocketAddress address, Supplier<String> statusJson, Supplier<String> metrics)
            throws IOException {
        HttpServer s = HttpServer.create(address, 16);
        s.createContext("/status", ex -> answer(ex, "application/json", statusJson.get()));
        s.createContext("/metrics", ex -> answer(ex, "text/plain; version=0.0.4; charset=utf-8", metrics.get()));
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        s.setExecutor(executor);
        s.start();
        return new StatusServer(s, executor);
    }

    public int port() {
        return server.getAddress().getPort();
    }

    static String statusJson(Coordinator c) {
        return "{\"version\":" + c.version()
                + ",\"accepted\":" + c.accepted()
                + ",\"rejected\":" + c.refused()
                + ",\"workers\":" + c.liveWorkers()
                + ",\"strategy\":\"" + c.strategy() + "\""
                + c.evaluation().map(StatusServer::evaluationJson).orElse("") + "}";
    }

    private static String evaluationJson(Coordinator.Evaluation e) {
        StringBuilder b = new StringBuilder(",\"evaluation\":{\"version\":").append(e.version());
        new java.util.TreeMap<>(e.metrics()).forEach((k, v) -> b.append(",\"").append(dev.tributary.coordinator.CoordinatorMetrics.safeName(k))
                .append("\":").append(Double.isFinite(v) ? Double.toString(v) : "null"));
        return b.append('}').toString();
    }

    private static void answer(HttpExchange ex, String type, String body) throws IOException {
        try (ex) {
            if (!ex.getRequestMethod().equals("GET") && !ex.getRequestMethod().equals("HEAD")) {
                ex.getResponseHeaders().add("Allow", "GET, HEAD");
                ex.sendResponseHeaders(405, -1);
                return;
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", type);
            boolean head = ex.getRequestMethod().equals("HEAD");
            ex.sendResponseHeaders(200, head ? -1 : bytes.length);
            if (!head) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(bytes);
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
