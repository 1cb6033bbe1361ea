package dev.tributary.rl.learner;

import dev.tributary.coordinator.CoordinatorMetrics;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The learner's counters, in a Prometheus registry: items accepted, duplicate and refused by reason, items
 * dropped before training for their lag, the lag of accepted items, environment steps taken in, training
 * steps and their time, bytes in and out, and gauges for the version, the buffer and the live actors.
 *
 * <p>Names follow the same conventions as the coordinator's ({@link CoordinatorMetrics}, listed in
 * {@code docs/METRICS.md}): {@code tributary_} first, the unit once as the suffix, {@code _total} on
 * counters; histograms are cumulative, their {@code _max} too, so buckets, sum, count and max describe the
 * same items (no windowed percentiles).
 */
public final class LearnerMetrics {
    /** Lag buckets, in versions: {@code le="0.5"} holds lag 0. */
    private static final double[] LAG_BUCKETS = {0.5, 1, 2, 4, 8, 16, 32, 64, 128};
    /** Training-step buckets, from 1 ms to 60 s. */
    private static final List<Duration> STEP_BUCKETS = List.of(Duration.ofMillis(1), Duration.ofMillis(5),
            Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(10), Duration.ofSeconds(60));

    private final PrometheusMeterRegistry registry;
    private final Counter accepted;
    private final Counter duplicates;
    private final Counter unauthenticated;
    private final Counter envSteps;
    private final Counter dropped;
    private final Counter busy;
    private final Counter storeFailed;
    private final Counter bytesIn;
    private final Counter bytesOut;
    private final DistributionSummary lag;
    private final Timer training;
    private final AtomicLong refusedTotal = new AtomicLong();
    private final ConcurrentHashMap<String, Counter> refused = new ConcurrentHashMap<>();

    public LearnerMetrics() {
        this(Clock.SYSTEM);
    }

    /** With the clock histograms read (tests move it to check nothing decays). */
    LearnerMetrics(Clock clock) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), clock);
        accepted = Counter.builder("tributary.experience.accepted").description("experience items made durable").register(registry);
        duplicates = Counter.builder("tributary.experience.duplicate").description("pushes of an already accepted item id").register(registry);
        unauthenticated = Counter.builder("tributary.calls.unauthenticated").description("calls refused for a missing or wrong token").register(registry);
        envSteps = Counter.builder("tributary.experience.env_steps").description("environment steps in accepted items").register(registry);
        dropped = Counter.builder("tributary.experience.dropped").description("items dropped before training: lag beyond max_lag").register(registry);
        busy = Counter.builder("tributary.experience.busy")
                .description("pushes told to wait (busy): the buffer's rate limiter held inserts back").register(registry);
        storeFailed = Counter.builder("tributary.experience.store_failed")
                .description("valid items the buffer failed to store (I/O): the actor retries").register(registry);
        bytesIn = Counter.builder("tributary.experience.received").baseUnit("bytes")
                .description("experience bytes received (chunk payloads)").register(registry);
        bytesOut = Counter.builder("tributary.policy.sent").baseUnit("bytes")
                .description("policy bytes sent to pulls (chunk payloads)").register(registry);
        lag = DistributionSummary.builder("tributary.experience.lag")
                .description("versions between the current policy and an accepted item's oldest step")
                .serviceLevelObjectives(LAG_BUCKETS)
                .distributionStatisticExpiry(CoordinatorMetrics.NEVER).distributionStatisticBufferLength(1)
                .register(registry);
        training = Timer.builder("tributary.training.step").description("time of one training step")
                .serviceLevelObjectives(STEP_BUCKETS.toArray(Duration[]::new))
                .distributionStatisticExpiry(CoordinatorMetrics.NEVER).distributionStatisticBufferLength(1)
                .register(registry);
    }

    /** Registers gauges read on each scrape. */
    public void gauges(Supplier<Number> version, Supplier<Number> bufferItems, Supplier<Number> actors) {
        Gauge.builder("tributary.policy.version", version).description("current policy version").register(registry);
        Gauge.builder("tributary.buffer.items", bufferItems).description("items in the buffer").register(registry);
        Gauge.builder("tributary.actors.live", actors).description("actors seen lately").register(registry);
    }

    public void accepted(long steps, long lagVersions) {
        accepted.increment();
        envSteps.increment(steps);
        lag.record(lagVersions);
    }

    public void duplicate() {
        duplicates.increment();
    }

    /** Counts a refusal under {@code reason} (a short stable code such as {@code lag} or {@code shape}). */
    public void refused(String reason) {
        refusedTotal.incrementAndGet();
        refused.computeIfAbsent(reason, r -> Counter.builder("tributary.experience.refused")
                .description("items refused, by reason").tag("reason", r).register(registry)).increment();
    }

    public void unauthenticated() {
        unauthenticated.increment();
    }

    public void busy() {
        busy.increment();
    }

    public void storeFailed() {
        storeFailed.increment();
    }

    public long busyTotal() {
        return (long) busy.count();
    }

    public void dropped(int items) {
        dropped.increment(items);
    }

    public void bytesIn(long n) {
        bytesIn.increment(n);
    }

    public void bytesOut(long n) {
        bytesOut.increment(n);
    }

    public void trained(Duration d) {
        training.record(d);
    }

    public long acceptedTotal() {
        return (long) accepted.count();
    }

    public long duplicateTotal() {
        return (long) duplicates.count();
    }

    public long droppedTotal() {
        return (long) dropped.count();
    }

    /** Refusals so far, all reasons together. */
    public long refusedTotal() {
        return refusedTotal.get();
    }

    /** Refusals so far under {@code reason}. */
    public long refusedCount(String reason) {
        Counter c = refused.get(reason);
        return c == null ? 0 : (long) c.count();
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }
}
