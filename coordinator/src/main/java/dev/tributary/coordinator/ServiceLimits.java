package dev.tributary.coordinator;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * What one coordinator lets its clients hold: the memory its receive buffers may commit, how long and how
 * slowly a push stream may run, how many streams and how much of the memory one token or one worker may
 * hold, and how many workers may be registered. Keys in the coordinator's YAML file, with their defaults:
 *
 * <pre>
 * memory_budget_bytes: 0            # 0: (deltas the strategy holds + 2) × max_update_bytes, at least 64 MiB
 * push_idle_timeout_seconds: 30     # a push stream that sends no message for this long is cut
 * push_timeout_seconds: 60          # a push must end within this plus delta_bytes / push_min_bytes_per_second
 * push_min_bytes_per_second: 1048576
 * max_push_streams_per_token: 64    # push streams open at once under one bearer token
 * max_push_streams_per_worker: 4    # push streams open at once for one worker id
 * token_memory_share: 1.0           # fraction of the budget the open streams of one token may hold
 * worker_memory_share: 0.5          # fraction of the budget the open streams of one worker may hold
 * max_workers: 10000                # registered workers (live leases) at most
 * </pre>
 *
 * @param memoryBudgetBytes       real bytes the receive buffers may commit, pooled ones included; 0 for the default
 * @param pushIdleTimeout         longest wait for the next message of a push stream
 * @param pushTimeout             time every push is allowed whatever its size
 * @param pushMinBytesPerSecond   slowest average rate a push may arrive at
 * @param maxPushStreamsPerToken  concurrent push streams per bearer token
 * @param maxPushStreamsPerWorker concurrent push streams per worker id
 * @param tokenMemoryShare        share of the budget per token, in (0, 1]
 * @param workerMemoryShare       share of the budget per worker, in (0, 1]
 * @param maxWorkers              registered workers at most
 */
public record ServiceLimits(long memoryBudgetBytes, Duration pushIdleTimeout, Duration pushTimeout,
        long pushMinBytesPerSecond, int maxPushStreamsPerToken, int maxPushStreamsPerWorker, double tokenMemoryShare,
        double workerMemoryShare, int maxWorkers) {

    /** The YAML keys, all top level. */
    static final Set<String> KEYS = Set.of("memory_budget_bytes", "push_idle_timeout_seconds", "push_timeout_seconds",
            "push_min_bytes_per_second", "max_push_streams_per_token", "max_push_streams_per_worker",
            "token_memory_share", "worker_memory_share", "max_workers");

    /** The defaults above. */
    public static final ServiceLimits DEFAULTS = new ServiceLimits(0, Duration.ofSeconds(30), Duration.ofSeconds(60),
            1 << 20, 64, 4, 1.0, 0.5, 10_000);

    public ServiceLimits {
        Objects.requireNonNull(pushIdleTimeout, "pushIdleTimeout");
        Objects.requireNonNull(pushTimeout, "pushTimeout");
        if (memoryBudgetBytes < 0) {
            throw new IllegalArgumentException("memory_budget_bytes: must be ≥ 0 (0 for the default), got " + memoryBudgetBytes);
        }
        positive("push_idle_timeout_seconds", pushIdleTimeout);
        positive("push_timeout_seconds", pushTimeout);
        if (pushMinBytesPerSecond < 1) {
            throw new IllegalArgumentException("push_min_bytes_per_second: must be > 0, got " + pushMinBytesPerSecond);
        }
        atLeastOne("max_push_streams_per_token", maxPushStreamsPerToken);
        atLeastOne("max_push_streams_per_worker", maxPushStreamsPerWorker);
        share("token_memory_share", tokenMemoryShare);
        share("worker_memory_share", workerMemoryShare);
        atLeastOne("max_workers", maxWorkers);
    }

    /** Reads the keys of {@link #KEYS} present in {@code values} over {@link #DEFAULTS}. */
    static ServiceLimits from(Map<String, Object> values, Numbers numbers) {
        ServiceLimits d = DEFAULTS;
        return new ServiceLimits(
                whole(numbers, "memory_budget_bytes", d.memoryBudgetBytes()),
                seconds(numbers, "push_idle_timeout_seconds", d.pushIdleTimeout()),
                seconds(numbers, "push_timeout_seconds", d.pushTimeout()),
                whole(numbers, "push_min_bytes_per_second", d.pushMinBytesPerSecond()),
                count(numbers, "max_push_streams_per_token", d.maxPushStreamsPerToken()),
                count(numbers, "max_push_streams_per_worker", d.maxPushStreamsPerWorker()),
                numbers.get("token_memory_share", d.tokenMemoryShare()),
                numbers.get("worker_memory_share", d.workerMemoryShare()),
                count(numbers, "max_workers", d.maxWorkers()));
    }

    /** Reads a number under a key, or its default when absent. */
    @FunctionalInterface
    interface Numbers {
        double get(String key, double dflt);
    }

    public ServiceLimits withMemoryBudget(long bytes) {
        return new ServiceLimits(bytes, pushIdleTimeout, pushTimeout, pushMinBytesPerSecond, maxPushStreamsPerToken,
                maxPushStreamsPerWorker, tokenMemoryShare, workerMemoryShare, maxWorkers);
    }

    public ServiceLimits withPushDeadlines(Duration idle, Duration total, long minBytesPerSecond) {
        return new ServiceLimits(memoryBudgetBytes, idle, total, minBytesPerSecond, maxPushStreamsPerToken,
                maxPushStreamsPerWorker, tokenMemoryShare, workerMemoryShare, maxWorkers);
    }

    public ServiceLimits withStreamsPer(int token, int worker) {
        return new ServiceLimits(memoryBudgetBytes, pushIdleTimeout, pushTimeout, pushMinBytesPerSecond, token, worker,
                tokenMemoryShare, workerMemoryShare, maxWorkers);
    }

    public ServiceLimits withMemoryShares(double token, double worker) {
        return new ServiceLimits(memoryBudgetBytes, pushIdleTimeout, pushTimeout, pushMinBytesPerSecond,
                maxPushStreamsPerToken, maxPushStreamsPerWorker, token, worker, maxWorkers);
    }

    public ServiceLimits withMaxWorkers(int n) {
        return new ServiceLimits(memoryBudgetBytes, pushIdleTimeout, pushTimeout, pushMinBytesPerSecond,
                maxPushStreamsPerToken, maxPushStreamsPerWorker, tokenMemoryShare, workerMemoryShare, n);
    }

    /** The time a push of {@code deltaBytes} may take from its first message to its last. */
    public Duration pushDeadline(long deltaBytes) {
        long extra = deltaBytes > Long.MAX_VALUE / 1000 ? Long.MAX_VALUE / 4 : deltaBytes * 1000 / pushMinBytesPerSecond;
        return pushTimeout.plusMillis(extra);
    }

    private static long whole(Numbers numbers, String key, long dflt) {
        double v = numbers.get(key, dflt);
        if (v != Math.rint(v) || Math.abs(v) > 1e18) {
            throw new IllegalArgumentException(key + ": must be a whole number, got " + v);
        }
        return (long) v;
    }

    private static int count(Numbers numbers, String key, int dflt) {
        long v = whole(numbers, key, dflt);
        if (v != (int) v) {
            throw new IllegalArgumentException(key + ": must be at most " + Integer.MAX_VALUE + ", got " + v);
        }
        return (int) v;
    }

    private static Duration seconds(Numbers numbers, String key, Duration dflt) {
        double v = numbers.get(key, dflt.toMillis() / 1000.0);
        if (!(v > 0) || v > 1e9) {
            throw new IllegalArgumentException(key + ": must be > 0 (and at most 1e9), got "
                    + (v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v)));
        }
        return Duration.ofMillis(Math.max(1, Math.round(v * 1000)));
    }

    private static void positive(String key, Duration d) {
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(key + ": must be > 0, got " + d.toMillis() / 1000.0);
        }
    }

    private static void atLeastOne(String key, long n) {
        if (n < 1) {
            throw new IllegalArgumentException(key + ": must be at least 1, got " + n);
        }
    }

    private static void share(String key, double s) {
        if (!(s > 0 && s <= 1)) {
            throw new IllegalArgumentException(key + ": must be in (0, 1], got " + s);
        }
    }
}
