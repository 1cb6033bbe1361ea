package dev.tributary.coordinator;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The coordinator's counters, in a Prometheus registry: updates accepted and refused by reason, staleness
 * of accepted updates, bytes in and out, time the strategy takes per update, live workers, model version.
 */
public final class CoordinatorMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter accepted;
    private final Counter duplicates;
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

    public CoordinatorMetrics() {
        accepted = Counter.builder("tributary.updates.accepted").description("updates made durable and taken in").register(registry);
        duplicates = Counter.builder("tributary.updates.duplicate").description("pushes of an already accepted update id").register(registry);
        unauthenticated = Counter.builder("tributary.calls.unauthenticated").description("calls refused for a missing or wrong token").register(registry);
        bytesIn = Counter.builder("tributary.bytes.in").baseUnit("bytes").description("update bytes received").register(registry);
        bytesOut = Counter.builder("tributary.bytes.out").baseUnit("bytes").description("model bytes sent").register(registry);
        staleness = DistributionSummary.builder("tributary.update.staleness")
                .description("staleness of accepted updates, in versions")
                .serviceLevelObjectives(0.5, 1, 2, 4, 8, 16, 32, 64, 128) // le="0.5": staleness 0
                .register(registry);
        aggregation = Timer.builder("tributary.aggregation.latency")
                .description("time the strategy takes to take in one update")
                .publishPercentiles(0.5, 0.99)
                .register(registry);
    }

    private final ConcurrentHashMap<String, Double> evaluation = new ConcurrentHashMap<>();

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

    public void accepted(long stalenessVersions) {
        accepted.increment();
        staleness.record(stalenessVersions);
    }

    public void duplicate() {
        duplicates.increment();
    }

    /** Counts a refusal under {@code reason} (a short stable code such as {@code staleness} or {@code shape}). */
    public void refused(String reason) {
        refusedTotal.incrementAndGet();
        refused.computeIfAbsent(reason, r -> Counter.builder("tributary.updates.refused")
                .description("updates refused, by reason").tag("reason", r).register(registry)).increment();
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

    public void bytesIn(long n) {
        bytesIn.increment(n);
    }

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
                .register(registry)).record(Duration.ofNanos(nanos));
    }

    /**
     * A pull answered as {@code kind}: {@code full} (the whole model), {@code delta} (a version delta),
     * {@code unchanged} (a header alone); {@code bytes} of chunks sent ({@code tributary_pulls_total} and
     * {@code tributary_pull_bytes_total}, by kind).
     */
    public void pulled(String kind, long bytes) {
        pulls.computeIfAbsent(kind, k -> Counter.builder("tributary.pulls")
                .description("pulls answered, by kind: full, delta, unchanged").tag("kind", k).register(registry)).increment();
        pullBytes.computeIfAbsent(kind, k -> Counter.builder("tributary.pull").baseUnit("bytes")
                .description("model bytes sent to pulls, by kind: full, delta").tag("kind", k).register(registry)).increment(bytes);
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

    /** The Prometheus text exposition of every meter. */
    public String scrape() {
        return registry.scrape();
    }
}
