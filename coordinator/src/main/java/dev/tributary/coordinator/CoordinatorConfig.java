package dev.tributary.coordinator;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * How a coordinator runs. In a YAML file every key is optional ({@code examples/serve.yaml} lists them all,
 * each at its default):
 *
 * <pre>
 * strategy:            # handed to the strategy as is, e.g. alpha, max_staleness, buffer_size
 *   max_staleness: 10
 * checkpoint_every: 20 # publishes between checkpoints
 * keep_checkpoints: 2
 * lease_seconds: 15    # a worker that does not heartbeat for this long leaves the live set
 * max_update_bytes: 0  # 0: the model's size plus 1 MiB of header room
 * max_delta_norm: 1e6  # L2 bound over the whole delta; 0: none (a published model is kept finite regardless)
 * norm_policy: refuse  # refuse or clip deltas over the bound
 * tick_millis: 200     # how often time-driven strategy events are checked
 * compact_log_bytes: 268435456 # after a checkpoint, compact the log behind every checkpoint once this much can go; 0: never
 * </pre>
 *
 * and the memory, stream and registration limits of {@link ServiceLimits} (memory_budget_bytes,
 * push_idle_timeout_seconds, push_timeout_seconds, push_min_bytes_per_second, max_push_streams_per_token,
 * max_push_streams_per_worker, token_memory_share, worker_memory_share, max_workers) and the wire settings
 * of {@link WireSettings} (codecs, pull_delta_versions, pull_delta_max_bytes, ef21_max_workers, ef21_max_bytes).
 *
 * @param strategy        fedavg, fedasync, fedbuff or diloco
 * @param strategyConfig  the strategy's own settings
 * @param checkpointEvery publishes between checkpoints (a checkpoint is also written on shutdown)
 * @param keepCheckpoints checkpoints kept on disk
 * @param lease           how long a registration or heartbeat keeps a worker live
 * @param maxUpdateBytes  largest delta accepted; 0 for the model's size plus 1 MiB
 * @param maxDeltaNorm    bound on a delta's L2 norm over all tensors; 0 for none
 * @param normPolicy      what happens to a delta over the bound
 * @param tick            period of {@code Strategy.onTick}
 * @param limits          what clients may hold: memory, push streams, registrations
 * @param wire            push codecs accepted, versions kept for version-delta pulls
 * @param compactLogBytes the least log bytes a compaction gives back (see {@code CompactedLog}); 0 keeps every delta
 */
public record CoordinatorConfig(String strategy, Map<String, Object> strategyConfig, int checkpointEvery,
        int keepCheckpoints, Duration lease, long maxUpdateBytes, double maxDeltaNorm, NormPolicy normPolicy,
        Duration tick, ServiceLimits limits, WireSettings wire, long compactLogBytes) {

    /**
     * The default bound on a delta's L2 norm: far above what training moves a model by in one update, far
     * below what could push f32 weights towards overflow.
     */
    public static final double DEFAULT_MAX_DELTA_NORM = 1e6;

    /**
     * The default least size of a log compaction: the log on disk then holds what follows the oldest
     * checkpoint plus at most this much.
     */
    public static final long DEFAULT_COMPACT_LOG_BYTES = 256L << 20;

    /** Refuse deltas whose norm is over the bound, or scale them down to it. */
    public enum NormPolicy { REFUSE, CLIP }

    private static final Set<String> KEYS = union(Set.of("strategy", "checkpoint_every", "keep_checkpoints",
            "lease_seconds", "max_update_bytes", "max_delta_norm", "norm_policy", "tick_millis", "compact_log_bytes"),
            union(ServiceLimits.KEYS, WireSettings.KEYS));

    public CoordinatorConfig {
        Objects.requireNonNull(strategy, "strategy");
        strategyConfig = Map.copyOf(strategyConfig);
        Objects.requireNonNull(lease, "lease");
        Objects.requireNonNull(normPolicy, "normPolicy");
        Objects.requireNonNull(tick, "tick");
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(wire, "wire");
        if (checkpointEvery < 1) {
            throw new IllegalArgumentException("checkpoint_every: must be at least 1, got " + checkpointEvery);
        }
        if (keepCheckpoints < 1) {
            throw new IllegalArgumentException("keep_checkpoints: must be at least 1, got " + keepCheckpoints);
        }
        if (lease.isNegative() || lease.isZero()) {
            throw new IllegalArgumentException("lease_seconds: must be positive, got " + lease.toSeconds());
        }
        if (maxUpdateBytes < 0) {
            throw new IllegalArgumentException("max_update_bytes: must be 0 or more, got " + maxUpdateBytes);
        }
        if (!(maxDeltaNorm >= 0) || Double.isInfinite(maxDeltaNorm)) {
            throw new IllegalArgumentException("max_delta_norm: must be a finite number ≥ 0, got " + maxDeltaNorm);
        }
        if (tick.toMillis() < 1) {
            throw new IllegalArgumentException("tick_millis: must be at least 1, got " + tick.toMillis());
        }
        if (compactLogBytes < 0) {
            throw new IllegalArgumentException("compact_log_bytes: must be 0 (never compact) or more, got " + compactLogBytes);
        }
    }

    /** Every key a coordinator's YAML file may set (examples/serve.yaml sets each at its default). */
    static Set<String> keys() {
        return KEYS;
    }

    /** A configuration that compacts the log by the default rule. */
    public CoordinatorConfig(String strategy, Map<String, Object> strategyConfig, int checkpointEvery, int keepCheckpoints,
            Duration lease, long maxUpdateBytes, double maxDeltaNorm, NormPolicy normPolicy, Duration tick, ServiceLimits limits,
            WireSettings wire) {
        this(strategy, strategyConfig, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes, maxDeltaNorm, normPolicy, tick,
                limits, wire, DEFAULT_COMPACT_LOG_BYTES);
    }

    /** A configuration with the default wire settings. */
    public CoordinatorConfig(String strategy, Map<String, Object> strategyConfig, int checkpointEvery, int keepCheckpoints,
            Duration lease, long maxUpdateBytes, double maxDeltaNorm, NormPolicy normPolicy, Duration tick, ServiceLimits limits) {
        this(strategy, strategyConfig, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes, maxDeltaNorm, normPolicy, tick,
                limits, WireSettings.DEFAULTS);
    }

    /** Defaults for {@code strategy} with its own defaults. */
    public static CoordinatorConfig defaults(String strategy) {
        return new CoordinatorConfig(strategy, Map.of(), 20, 2, Duration.ofSeconds(15), 0, DEFAULT_MAX_DELTA_NORM, NormPolicy.REFUSE,
                Duration.ofMillis(200), ServiceLimits.DEFAULTS);
    }

    /** Reads {@code file} over the defaults for {@code strategy}; unknown keys are refused. */
    public static CoordinatorConfig fromYaml(String strategy, Path file) throws IOException {
        Map<String, Object> values = YamlSettings.read(file);
        if (values.isEmpty()) {
            return defaults(strategy);
        }
        Set<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(KEYS);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(file + ": unknown settings " + unknown + " (known: " + new TreeSet<>(KEYS) + ")");
        }
        CoordinatorConfig d = defaults(strategy);
        Map<String, Object> sc = new LinkedHashMap<>();
        Object s = values.get("strategy");
        if (s instanceof Map<?, ?> sm) {
            sm.forEach((k, v) -> sc.put(String.valueOf(k), v));
        } else if (s != null) {
            throw new IllegalArgumentException(file + ": strategy: must be a map of the strategy's settings");
        }
        String policy = String.valueOf(values.getOrDefault("norm_policy", "refuse"));
        NormPolicy np = switch (policy) {
            case "refuse" -> NormPolicy.REFUSE;
            case "clip" -> NormPolicy.CLIP;
            default -> throw new IllegalArgumentException(file + ": norm_policy \"" + policy + "\": must be refuse or clip");
        };
        return new CoordinatorConfig(strategy, sc,
                (int) number(file, values, "checkpoint_every", d.checkpointEvery()),
                (int) number(file, values, "keep_checkpoints", d.keepCheckpoints()),
                Duration.ofMillis((long) (number(file, values, "lease_seconds", d.lease().toSeconds()) * 1000)),
                (long) number(file, values, "max_update_bytes", d.maxUpdateBytes()),
                number(file, values, "max_delta_norm", d.maxDeltaNorm()),
                np,
                Duration.ofMillis((long) number(file, values, "tick_millis", d.tick().toMillis())),
                ServiceLimits.from(values, (key, dflt) -> number(file, values, key, dflt)),
                wire(file, values),
                (long) number(file, values, "compact_log_bytes", d.compactLogBytes()));
    }

    private static WireSettings wire(Path file, Map<String, Object> values) {
        try {
            return WireSettings.from(values, (key, dflt) -> number(file, values, key, dflt));
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(file.toString()) ? e : new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    private static Set<String> union(Set<String> a, Set<String> b) {
        Set<String> u = new TreeSet<>(a);
        u.addAll(b);
        return Set.copyOf(u);
    }

    private static double number(Path file, Map<String, Object> values, String key, double dflt) {
        Object v = values.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException(file + ": " + key + ": must be a number, got \"" + v + "\"");
        }
        return n.doubleValue();
    }

    public CoordinatorConfig withStrategyConfig(Map<String, Object> c) {
        return new CoordinatorConfig(strategy, c, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes, maxDeltaNorm,
                normPolicy, tick, limits, wire, compactLogBytes);
    }

    public CoordinatorConfig withCheckpointEvery(int n) {
        return new CoordinatorConfig(strategy, strategyConfig, n, keepCheckpoints, lease, maxUpdateBytes, maxDeltaNorm,
                normPolicy, tick, limits, wire, compactLogBytes);
    }

    public CoordinatorConfig withLimits(ServiceLimits l) {
        return new CoordinatorConfig(strategy, strategyConfig, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes,
                maxDeltaNorm, normPolicy, tick, l, wire, compactLogBytes);
    }

    public CoordinatorConfig withNormBound(double bound, NormPolicy policy) {
        return new CoordinatorConfig(strategy, strategyConfig, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes,
                bound, policy, tick, limits, wire, compactLogBytes);
    }

    public CoordinatorConfig withCompactLogBytes(long bytes) {
        return new CoordinatorConfig(strategy, strategyConfig, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes,
                maxDeltaNorm, normPolicy, tick, limits, wire, bytes);
    }

    public CoordinatorConfig withWire(WireSettings w) {
        return new CoordinatorConfig(strategy, strategyConfig, checkpointEvery, keepCheckpoints, lease, maxUpdateBytes,
                maxDeltaNorm, normPolicy, tick, limits, w, compactLogBytes);
    }
}
