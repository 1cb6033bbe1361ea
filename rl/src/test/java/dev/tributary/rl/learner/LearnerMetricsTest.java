package dev.tributary.rl.learner;

import static dev.tributary.coordinator.http.PrometheusAssertions.checkHistogram;
import static dev.tributary.coordinator.http.PrometheusAssertions.conventionProblems;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.http.PrometheusText;
import io.micrometer.core.instrument.MockClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The learner's metrics follow the conventions of docs/METRICS.md, and their histograms agree with themselves. */
class LearnerMetricsTest {

    static LearnerMetrics exercised(MockClock clock) {
        LearnerMetrics m = new LearnerMetrics(clock);
        m.gauges(() -> 4, () -> 120, () -> 8);
        m.accepted(500, 0);
        m.accepted(300, 3);
        m.accepted(200, 40);
        m.duplicate();
        m.refused("lag");
        m.refused("shape");
        m.refused("lag");
        m.unauthenticated();
        m.busy();
        m.storeFailed();
        m.dropped(2);
        m.bytesIn(1000);
        m.bytesOut(2000);
        m.trained(Duration.ofMillis(30));
        m.trained(Duration.ofMillis(700));
        return m;
    }

    @Test
    void everyFamilyFollowsThePrometheusNamingConventions() {
        PrometheusText text = PrometheusText.parse(exercised(new MockClock()).scrape());
        assertEquals(List.of(), conventionProblems(text));
        assertEquals(List.of("tributary_actors_live", "tributary_buffer_items", "tributary_calls_unauthenticated_total",
                        "tributary_experience_accepted_total", "tributary_experience_busy_total",
                        "tributary_experience_dropped_total", "tributary_experience_duplicate_total",
                        "tributary_experience_env_steps_total", "tributary_experience_lag",
                        "tributary_experience_lag_max", "tributary_experience_received_bytes_total", "tributary_experience_refused_total",
                        "tributary_experience_store_failed_total", "tributary_policy_sent_bytes_total",
                        "tributary_policy_version", "tributary_training_step_seconds",
                        "tributary_training_step_seconds_max"),
                text.families().keySet().stream().sorted().toList());
        assertEquals(1000.0, text.value("tributary_experience_env_steps_total", -1));
        assertEquals(2.0, text.value("tributary_experience_refused_total", "reason", "lag", -1));
        assertEquals(3.0, text.value("tributary_experience_refused_total", -1));
        assertEquals(1000.0, text.value("tributary_experience_received_bytes_total", -1));
        assertEquals(2000.0, text.value("tributary_policy_sent_bytes_total", -1));
    }

    @Test
    void histogramsAreCumulativeAndAgreeWithTheirSumCountAndMax() {
        MockClock clock = new MockClock();
        LearnerMetrics m = exercised(clock);
        for (int round = 0; round < 2; round++) {
            PrometheusText text = PrometheusText.parse(m.scrape());
            checkHistogram(text, "tributary_experience_lag", 3, 43, 40);
            checkHistogram(text, "tributary_training_step_seconds", 2, 0.730, 0.700);
            // An hour later with nothing new: a decaying max would have gone to 0 while sum and count stayed.
            clock.add(1, TimeUnit.HOURS);
        }
        assertFalse(m.scrape().contains("quantile="), "no windowed quantiles beside cumulative sums");
    }
}
