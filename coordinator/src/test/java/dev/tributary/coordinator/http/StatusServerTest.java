package dev.tributary.coordinator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.store.TestModels;
import dev.tributary.coordinator.auth.Tokens;
import io.grpc.inprocess.InProcessServerBuilder;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StatusServerTest {
    @TempDir
    Path state;

    @Test
    void servesStatusJsonAndPrometheusMetrics() throws Exception {
        try (Coordinator c = Coordinator.start(InProcessServerBuilder.forName(InProcessServerBuilder.generateName()), state,
                TestModels.model(1), CoordinatorConfig.defaults("fedbuff"), Tokens.of(List.of("t0k3n")), w -> {});
                StatusServer s = StatusServer.start(new InetSocketAddress("127.0.0.1", 0), c);
                HttpClient http = HttpClient.newHttpClient()) {
            c.metrics().refused("shape");
            HttpResponse<String> status = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, status.statusCode());
            assertEquals("{\"version\":0,\"accepted\":0,\"rejected\":1,\"workers\":0,\"strategy\":\"fedbuff\"}", status.body());
            HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.body().contains("tributary_updates_refused_total{reason=\"shape\"} 1.0"), metrics.body());
            assertTrue(metrics.body().contains("tributary_workers_live"), metrics.body());
            assertTrue(metrics.body().contains("tributary_update_staleness_bucket"), metrics.body());
            c.evaluated(3, java.util.Map.of("accuracy", 0.75, "loss", 0.5));
            c.evaluated(2, java.util.Map.of("accuracy", 0.1));
            String withEval = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/status")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(withEval.endsWith(",\"evaluation\":{\"version\":3,\"accuracy\":0.75,\"loss\":0.5}}"), withEval);
            String scraped = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertTrue(scraped.contains("tributary_eval_accuracy 0.75"), scraped);
            assertTrue(scraped.contains("tributary_eval_version 3.0"), scraped);
            HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/status"))
                    .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(405, post.statusCode());
        }
    }
}
