package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.http.PrometheusText;
import dev.tributary.store.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** After a restart without a clean stop, {@code /metrics} counts what {@code /status} counts: recovered updates included. */
class MetricsRecoveryTest {
    @TempDir
    Path state;

    @Test
    void acceptedAndVersionGoOnFromTheRecoveredState() throws IOException {
        Assembly first = Assembly.open(state, TestModels.model(1), RecoveryTest.fedbuff(), new CoordinatorMetrics(), w -> {});
        for (int i = 0; i < 5; i++) {
            RecoveryTest.push(first, i);
        }
        // Abandoned without close(): as if killed; the next one recovers 5 updates, version 2.
        CoordinatorMetrics metrics = new CoordinatorMetrics();
        Assembly back = Assembly.open(state, TestModels.model(1), RecoveryTest.fedbuff(), metrics, w -> {});
        PrometheusText text = PrometheusText.parse(metrics.scrape());
        assertEquals(5, back.accepted());
        assertEquals((double) back.accepted(), text.value("tributary_updates_accepted_total", -1));
        assertEquals((double) back.version(), text.value("tributary_model_version", -1));
        RecoveryTest.push(back, 5);
        text = PrometheusText.parse(metrics.scrape());
        assertEquals(6, back.accepted());
        assertEquals((double) back.accepted(), text.value("tributary_updates_accepted_total", -1));
        assertEquals((double) back.version(), text.value("tributary_model_version", -1));
        assertEquals(1.0, text.value("tributary_update_staleness_count", -1), "the histogram covers this process's updates");
        back.close();
    }
}
