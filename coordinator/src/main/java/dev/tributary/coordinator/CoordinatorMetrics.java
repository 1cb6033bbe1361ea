package dev.tributary.coordinator;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The coordinator's counters, in a Prometheus registry: updates accepted and refused by reason, staleness
 * of accepted updates, bytes in and out, time the strategy takes per update, live workers, model version.
 *
 * <p>Names follow Prometheus conventions: {@code tributary_} first, the unit once as a suffix
 * ({@code _bytes}, {@code _seconds}), {@code _total} on counters. Every meter and its meaning is listed in
 * {@code docs/METRICS.md}. The accepted-updates counter starts from the updates recovered at start (see
 * {@link #recovered}), so it equals {@code /status} after a restart; refusals, duplicates and bytes count
 * from this process's start. Histograms are cumulative, and so is their {@code _max}: no decaying window,
 * so buckets, sum, count and max describe the same updates.
 */
public final class CoordinatorMetrics {
    /** Staleness buckets, in versions: {@code le="0.5"} holds staleness 0. */
    private static final double[] STALENESS_BUCKETS = {0.5, 1, 2, 4, 8, 16, 32, 64, 128};
    /** Aggregation-time buckets, from 100 µs to 10 s. */
    private static final List<Duration> AGGREGATION_BUCKETS = List.of(Duration.ofNanos(100_000), Duration.ofMillis(1),
            Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofMillis(100),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(10));
    /**
     * Long enough that a histogram's max never decays while the process lives: Micrometer's Prometheus
     * buckets are cumulative (five years), and the max must cover the same updates as they do. The
     * learner's histograms use it too.
     */
    public static final Duration NEVER = Duration.ofDays(5 * 365);
    /** A refusal reason shown at 0 before the first one, so that alerts on it have a series to watch. */
    public static final String INTERNAL = "internal";

    private final PrometheusMeterRegistry registry;
    private final AtomicLong acceptedBefore = new AtomicLong();
    private final AtomicLong acceptedHere = new AtomicLong();
    private final Counter duplicates;
    private final Counter lossyBase;
    private final Counter ef21Evictions;
    private final Counter unauthenticated;
    private final Counter bytesIn;
    private final Counter bytesOut;
    private final DistributionSummary staleness;
    private final Timer aggregation;
    private final AtomicLong refusedTotal = new AtomicLong();
    private final ConcurrentHashMap<String, Counter> refused = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> registrationsRefused = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> wireBytes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> decodedBytes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Timer> decodeTime = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> pullBytes = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> pulls = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Double> evaluation = new ConcurrentHashMap<>();

    public CoordinatorMetrics() {
        this(Clock.SYSTEM);
    }

    /** With the clock histograms read (tests move it to check nothing decays). */
    CoordinatorMetrics(Clock clock) {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), clock);
        FunctionCounter.builder("tributary.updates.accepted", this, m -> m.acceptedBefore.get() + m.acceptedHere.get())
                .description("updates made durable and taken in, those recovered from the log at start included")
                .register(registry);
        duplicates = Counter.builder("tributary.updates.duplicate").description("pushes of an already accepted update id").register(registry);
        lossyBase = Counter.builder("tributary.updates.lossy.base")
                .description("accepted updates trained from a lossy pull of their base version").register(registry);
        ef21Evictions = Counter.builder("tributary.ef21.evictions")
                .description("EF21 estimates dropped at the ef21_max_workers or ef21_max_bytes bound").register(registry);
        unauthenticated = Counter.builder("tributary.calls.unauthenticated").description("calls refused for a missing or wrong token").register(registry);
        bytesIn = Counter.builder("tributary.update.received").baseUnit("bytes").description("update bytes received (chunk payloads)").register(registry);
        bytesOut = Counter.builder("tributary.model.sent").baseUnit("bytes").description("model bytes sent to pulls (chunk payloads)").register(registry);
        staleness = DistributionSummary.builder("tributary.update.staleness")
                .description("staleness of accepted updates, in versions")
                .serviceLevelObjectives(STALENESS_BUCKETS)
                .distributionStatisticExpiry(NEVER).distributionStatisticBufferLength(1)
                .register(registry);
        aggregation = Timer.builder("tributary.aggregation")
                .description("time the strategy takes to take in one update")
                .serviceLevelObjectives(AGGREGATION_BUCKETS.toArray(Duration[]::new))
                .distributionStatisticExpiry(NEVER).distributionStatisticBufferLength(1)
                .register(registry);
        refusedCounter(INTERNAL);
    }

    /** {@code name} with everything but letters, digits and '_' replaced by '_': fit for metric and JSON keys. */
    public static String safeName(String name) {
        return name.replaceAll("[^A-Za-z0-9_]", "_");
    }

    /** The newest evaluation of a published model, as gauges {@code tributary_eval_<metric>} and {@code tributary_eval_version}. */
    public void evaluation(long version, java.util.Map<String, Double> values) {
        java.util.Map<String, Double> all = new java.util.TreeMap<>(values);
        all.put("version", (double) version);
        all.forEach((k, v) -> {
            String name = "tributary.eval." + safeName(k);
            if (evaluation.put(name, v) == null) {
                Gauge.builder(name, () -> evaluation.getOrDefault(name, Double.NaN))
                        .description("evaluation of the newest evaluated version: " + k).register(registry);
            }
        });
    }

    /** Registers gauges read on each scrape. */
    public void gauges(Supplier<Number> liveWorkers, Supplier<Number> version) {
        Gauge.builder("tributary.workers.live", liveWorkers).description("workers whose lease has not run out").register(registry);
        Gauge.builder("tributary.model.version", version).description("current model version").register(registry);
    }

    /**
     * Registers the gauges of receive memory, read on each scrape: the budget, the bytes committed (buffers
     * in use and pooled), the pooled part, and the push streams receiving.
     */
    public void memoryGauges(LongSupplier budget, LongSupplier committed, LongSupplier pooled, LongSupplier pushStreams) {
        Gauge.builder("tributary.receive.memory.budget", budget::getAsLong).baseUnit("bytes")
                .description("native memory receive buffers may commit").register(registry);
        Gauge.builder("tributary.receive.memory.committed", committed::getAsLong).baseUnit("bytes")
                .description("native memory receive buffers hold now, pooled ones included").register(registry);
        Gauge.builder("tributary.receive.memory.pooled", pooled::getAsLong).baseUnit("bytes")
                .description("native memory of free receive buffers kept for reuse").register(registry);
        Gauge.builder("tributary.push.streams.receiving", pushStreams::getAsLong)
                .description("push streams receiving an update now").register(registry);
    }

    /** The accepted updates recovered from the log at start: the accepted counter goes on from there. */
    public void recovered(long accepted) {
        if (accepted < 0) {
            throw new IllegalArgumentException("accepted < 0: " + accepted);
        }
        acceptedBefore.set(accepted);
    }

    /** Counts an update whose acknowledgment was released, with its staleness in versions. */
    public void accepted(long stalenessVersions) {
        acceptedHere.incrementAndGet();
        staleness.record(stalenessVersions);
    }

    /** Accepted updates, those recovered at start included: the value of {@code tributary_updates_accepted_total}. */
    public long acceptedTotal() {
        return acceptedBefore.get() + acceptedHere.get();
    }

    /** An accepted update whose worker trained from a lossy pull of its base ({@code tributary_updates_lossy_base_total}). */
    public void lossyBase() {
        lossyBase.increment();
    }

    /** An EF21 estimate evicted at its bound ({@code tributary_ef21_evictions_total}). */
    public void ef21Evicted() {
        ef21Evictions.increment();
    }

    /** EF21 estimates evicted so far. */
    public long ef21Evictions() {
        return (long) ef21Evictions.count();
    }

    /** Accepted updates trained from a lossy pull of their base, so far. */
    public long lossyBases() {
        return (long) lossyBase.count();
    }

    public void duplicate() {
        duplicates.increment();
    }

    /** Counts a refusal under {@code reason} (a short stable code such as {@code staleness} or {@code shape}). */
    public void refused(String reason) {
        refusedTotal.incrementAndGet();
        refusedCounter(reason).increment();
    }

    private Counter refusedCounter(String reason) {
        return refused.computeIfAbsent(reason, r -> Counter.builder("tributary.updates.refused")
                .description("updates refused, by reason").tag("reason", r).register(registry));
    }

    /** Counts a refused registration under {@code reason}. */
    public void registrationRefused(String reason) {
        registrationsRefused.computeIfAbsent(reason, r -> Counter.builder("tributary.registrations.refused")
                .description("registrations refused, by reason").tag("reason", r).register(registry)).increment();
    }

    /** Refused registrations so far under {@code reason}. */
    public long registrationsRefused(String reason) {
        Counter c = registrationsRefused.get(reason);
        return c == null ? 0 : (long) c.count();
    }

    public void unauthenticated() {
        unauthenticated.increment();
    }

    /** Counts update bytes received ({@code tributary_update_received_bytes_total}). */
    public void bytesIn(long n) {
        bytesIn.increment(n);
    }

    /** Counts model bytes sent ({@code tributary_model_sent_bytes_total}). */
    public void bytesOut(long n) {
        bytesOut.increment(n);
    }

    /**
     * A push that arrived complete: {@code wire} bytes as sent, {@code decoded} bytes of the safetensors delta
     * they stand for; {@code tributary_update_wire_bytes_total} and {@code tributary_update_decoded_bytes_total},
     * labelled by codec family ({@code safetensors}, {@code int4}, {@code topk+int8}, …).
     */
    public void updateBytes(String codec, long wire, long decoded) {
        wireBytes.computeIfAbsent(codec, c -> Counter.builder("tributary.update.wire").baseUnit("bytes")
                .description("bytes of pushed updates as they came over the wire, by codec").tag("codec", c)
                .register(registry)).increment(wire);
        decodedBytes.computeIfAbsent(codec, c -> Counter.builder("tributary.update.decoded").baseUnit("bytes")
                .description("bytes of pushed updates once decoded (their safetensors images), by codec").tag("codec", c)
                .register(registry)).increment(decoded);
    }

    /** Time spent decoding one coded push ({@code tributary_update_decode_seconds}, by codec family). */
    public void decoded(String codec, long nanos) {
        decodeTime.computeIfAbsent(codec, c -> Timer.builder("tributary.update.decode")
                .description("time the coordinator takes to decode one coded push, by codec").tag("codec", c)
                .serviceLevelObjectives(AGGREGATION_BUCKETS.toArray(Duration[]::new))
                .distributionStatisticExpiry(NEVER).distributionStatisticBufferLength(1)
                .register(registry)).record(Duration.ofNanos(nanos));
    }

    /**
     * A pull answered as {@code kind}: {@code full} (the whole model), {@code delta} (a version delta),
     * {@code unchanged} (a header alone); {@code bytes} of chunks sent ({@code tributary_pulls_total} and
     * {@code tributary_pull_bytes_total}, by kind).
     */
    public void pulled(String kind, long bytes) {
        pulls.computeIfAbsent(kind, k -> Counter.builder("tributary.pulls")
                .description("pulls answered, by kind: full, delta, lossy, fragment, unchanged").tag("kind", k).register(registry)).increment();
        pullBytes.computeIfAbsent(kind, k -> Counter.builder("tributary.pull").baseUnit("bytes")
                .description("model bytes sent to pulls, by kind: full, delta, lossy, fragment").tag("kind", k).register(registry)).increment(bytes);
    }

    /** Bytes of pushed updates on the wire so far under {@code codec}. */
    public double wireBytes(String codec) {
        Counter c = wireBytes.get(codec);
        return c == null ? 0 : c.count();
    }

    /** Bytes of pushed updates once decoded so far under {@code codec}. */
    public double decodedBytes(String codec) {
        Counter c = decodedBytes.get(codec);
        return c == null ? 0 : c.count();
    }

    /** Coded pushes decoded so far under {@code codec}, and their mean decode time in milliseconds (NaN for none). */
    public double[] decodeStats(String codec) {
        Timer t = decodeTime.get(codec);
        return t == null ? new double[] {0, Double.NaN}
                : new double[] {t.count(), t.mean(java.util.concurrent.TimeUnit.NANOSECONDS) / 1e6};
    }

    /** Pulls answered so far as {@code kind}. */
    public long pulls(String kind) {
        Counter c = pulls.get(kind);
        return c == null ? 0 : (long) c.count();
    }

    /** Chunk bytes sent so far to pulls answered as {@code kind}. */
    public double pullBytes(String kind) {
        Counter c = pullBytes.get(kind);
        return c == null ? 0 : c.count();
    }

    public void aggregation(Duration d) {
        aggregation.record(d);
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

    public long unauthenticatedTotal() {
        return (long) unauthenticated.count();
    }

    /**
     * A counter of {@code unit} (e.g. {@code bytes}; null for none) registered once under {@code name}
     * (dotted: {@code tributary.update.decoded} becomes {@code tributary_update_decoded_bytes_total}), for
     * meters added beside these.
     */
    public Counter counter(String name, String unit, String description) {
        return Counter.builder(name).baseUnit(unit).description(description).register(registry);
    }

    /** {@link #counter} with one tag ({@code reason="size"}); the same name and tag give the same counter. */
    public Counter counter(String name, String unit, String description, String tag, String value) {
        return Counter.builder(name).baseUnit(unit).description(description).tag(tag, value).register(registry);
    }

    /** A gauge registered once under {@code name} (dotted, no unit), read from {@code value} at each scrape. */
    public void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }
}
