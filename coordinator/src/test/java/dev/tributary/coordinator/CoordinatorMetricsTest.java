package dev.tributary.coordinator;

import static dev.tributary.coordinator.http.PrometheusAssertions.checkHistogram;
import static dev.tributary.coordinator.http.PrometheusAssertions.conventionProblems;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.http.PrometheusText;
import io.micrometer.core.instrument.MockClock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What {@code /metrics} serves follows Prometheus's naming conventions, and its histograms agree with themselves. */
class CoordinatorMetricsTest {

    /** A registry with every kind of meter the coordinator registers, each touched at least once. */
    static CoordinatorMetrics exercised(MockClock clock) {
        CoordinatorMetrics m = new CoordinatorMetrics(clock);
        m.recovered(3);
        m.gauges(() -> 2, () -> 7);
        m.memoryGauges(() -> 1 << 20, () -> 4096, () -> 1024, () -> 1);
        m.accepted(0);
        m.accepted(3);
        m.accepted(40);
        m.refused("shape");
        m.duplicate();
        m.unauthenticated();
        m.registrationRefused("registration");
        m.bytesIn(1000);
        m.bytesOut(2000);
        m.aggregation(Duration.ofMillis(3));
        m.aggregation(Duration.ofMillis(70));
        m.evaluation(5, Map.of("accuracy", 0.5, "test loss", 1.25));
        return m;
    }

    @Test
    void everyFamilyFollowsThePrometheusNamingConventions() {
        PrometheusText text = PrometheusText.parse(exercised(new MockClock()).scrape());
        assertTrue(text.families().size() >= 15, text.families().keySet().toString());
        assertEquals(List.of(), conventionProblems(text));
        for (String expected : List.of("tributary_updates_accepted_total", "tributary_updates_refused_total",
                "tributary_update_received_bytes_total", "tributary_model_sent_bytes_total", "tributary_update_staleness",
                "tributary_aggregation_seconds", "tributary_model_version", "tributary_workers_live",
                "tributary_receive_memory_budget_bytes", "tributary_eval_test_loss")) {
            assertTrue(text.families().containsKey(expected), expected + " in " + text.families().keySet());
        }
    }

    @Test
    void refusalsAreCountedByReasonAndInternalIsServedBeforeTheFirst() {
        CoordinatorMetrics m = new CoordinatorMetrics();
        PrometheusText before = PrometheusText.parse(m.scrape());
        assertEquals(0.0, before.value("tributary_updates_refused_total", "reason", "internal", -1));
        m.refused("staleness");
        m.refused("staleness");
        m.refused(CoordinatorMetrics.INTERNAL);
        PrometheusText after = PrometheusText.parse(m.scrape());
        assertEquals(2.0, after.value("tributary_updates_refused_total", "reason", "staleness", -1));
        assertEquals(1.0, after.value("tributary_updates_refused_total", "reason", "internal", -1));
        assertEquals(3, m.refusedTotal());
        assertEquals(3.0, after.value("tributary_updates_refused_total", -1));
    }

    @Test
    void acceptedStartsFromTheRecoveredCount() {
        CoordinatorMetrics m = exercised(new MockClock());
        assertEquals(6, m.acceptedTotal());
        assertEquals(6.0, PrometheusText.parse(m.scrape()).value("tributary_updates_accepted_total", -1));
    }

    @Test
    void histogramsAgreeWithTheirSumCountAndMaxAndNothingDecays() {
        MockClock clock = new MockClock();
        CoordinatorMetrics m = exercised(clock);
        checkHistogram(PrometheusText.parse(m.scrape()), "tributary_update_staleness", 3, 43, 40);
        checkHistogram(PrometheusText.parse(m.scrape()), "tributary_aggregation_seconds", 2, 0.073, 0.070);
        // An hour later with nothing new: a decaying max would have gone to 0 while sum and count stayed.
        clock.add(1, TimeUnit.HOURS);
        checkHistogram(PrometheusText.parse(m.scrape()), "tributary_update_staleness", 3, 43, 40);
        checkHistogram(PrometheusText.parse(m.scrape()), "tributary_aggregation_seconds", 2, 0.073, 0.070);
        assertFalse(m.scrape().contains("quantile="), "no windowed quantiles beside cumulative sums");
    }
}
