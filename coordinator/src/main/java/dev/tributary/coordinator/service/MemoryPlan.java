package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.ServiceLimits;
import dev.tributary.coordinator.strategy.Aggregator;
import java.util.Map;

/**
 * The receive memory a configuration needs: a strategy that keeps deltas ({@code Strategy.keepsDeltas})
 * holds those of up to {@link #held} updates until it publishes (their buffers go back only then), and one
 * more update must be able to arrive, or no publish ever comes. The default budget leaves room for two
 * arriving at once. FedBuff with the mean or sum aggregator keeps none: however large its buffer, only the
 * updates arriving need receive memory.
 *
 * @param budget      bytes all receive buffers may commit
 * @param tokenShare  bytes the open streams of one token may hold
 * @param workerShare bytes the open streams of one worker may hold
 */
record MemoryPlan(long budget, long tokenShare, long workerShare) {
    /** The smallest default budget. */
    static final long MIN_DEFAULT_BUDGET = 64L << 20;

    /**
     * @throws IllegalArgumentException naming the key when the budget or a share cannot hold what the
     *                                  strategy keeps plus one update
     */
    static MemoryPlan of(CoordinatorConfig config, long maxUpdateBytes) {
        ServiceLimits l = config.limits();
        int held = held(config.strategy(), config.strategyConfig());
        long needed = Math.multiplyExact(held + 1L, maxUpdateBytes);
        long budget = l.memoryBudgetBytes() > 0 ? l.memoryBudgetBytes()
                : Math.max(MIN_DEFAULT_BUDGET, Math.multiplyExact(held + 2L, maxUpdateBytes));
        if (budget < needed) {
            throw new IllegalArgumentException("memory_budget_bytes: " + budget + " cannot hold the " + held + " updates "
                    + config.strategy() + " keeps until it publishes plus one arriving: needs at least " + (held + 1)
                    + " × max_update_bytes " + maxUpdateBytes + " = " + needed);
        }
        long tokenShare = share("token_memory_share", l.tokenMemoryShare(), budget, maxUpdateBytes);
        long workerShare = share("worker_memory_share", l.workerMemoryShare(), budget, maxUpdateBytes);
        return new MemoryPlan(budget, tokenShare, workerShare);
    }

    private static long share(String key, double share, long budget, long maxUpdateBytes) {
        long bytes = (long) Math.floor(share * budget);
        if (bytes < maxUpdateBytes) {
            throw new IllegalArgumentException(key + ": " + share + " of memory_budget_bytes " + budget + " is " + bytes
                    + " bytes < max_update_bytes " + maxUpdateBytes + ": an update of the largest size could never arrive");
        }
        return bytes;
    }

    /** Updates the strategy may hold before a publish lets them go (see {@code Strategies} for the keys). */
    static int held(String strategy, Map<String, Object> c) {
        return switch (strategy) {
            // With the mean or sum aggregator FedBuff folds each delta in as it comes (it keeps none).
            case "fedbuff" -> Aggregator.streams(String.valueOf(c.getOrDefault("aggregator", "mean"))) ? 0
                    : count(c, "buffer_size", 10);
            case "diloco" -> count(c, "workers", 2);
            case "fedavg" -> Math.max(count(c, "min_workers", 2),
                    (int) (number(c, "fraction", 1.0) * count(c, "workers", 0)));
            default -> 0;
        };
    }

    private static int count(Map<String, Object> c, String key, int dflt) {
        return (int) number(c, key, dflt);
    }

    private static double number(Map<String, Object> c, String key, double dflt) {
        return c.get(key) instanceof Number n ? n.doubleValue() : dflt;
    }
}
