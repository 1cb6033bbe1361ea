package dev.tributary.replay;

import java.util.Objects;

/**
 * How a table samples, evicts, limits and bounds itself. The configuration governs what the table decides
 * from now on; the log it recovers from is replayed as it was accepted, whatever the configuration was
 * then (a table that recovers above a smaller {@code maxSize} or budget evicts down to it with a FIFO
 * remover, and only warns with none).
 *
 * @param maxSize most items held at once
 * @param maxItemBytes largest payload an insert may carry; larger ones are refused
 * @param memoryBudgetBytes bound on the bytes the live items take: payloads plus
 *     {@link #ITEM_OVERHEAD_BYTES} and two bytes per id character each; an insert that would pass it evicts
 *     (FIFO remover) or waits and is refused (no remover). Ids of items already gone, kept so that a retried
 *     insert is recognized, are not counted: 100 to 150 bytes per item ever inserted, for short ids.
 */
public record TableConfig(Sampler sampler, Remover remover, long maxSize, RateLimiter limiter, long maxItemBytes,
        long memoryBudgetBytes) {
    /** Estimated bytes one live item takes beyond its payload and id (objects, indexes, the id set). */
    public static final long ITEM_OVERHEAD_BYTES = 256;
    /** Longest id, in UTF-8 bytes. */
    public static final int MAX_ID_BYTES = 256;
    /** Largest payload any configuration allows: one Java array. */
    public static final long MAX_PAYLOAD_BYTES = Integer.MAX_VALUE - 64;
    public static final long DEFAULT_MAX_ITEM_BYTES = 16L << 20;
    public static final long DEFAULT_MEMORY_BUDGET_BYTES = 1L << 30;

    public TableConfig {
        Objects.requireNonNull(sampler, "sampler");
        Objects.requireNonNull(remover, "remover");
        Objects.requireNonNull(limiter, "limiter");
        if (maxSize < 1 || maxSize > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxSize " + maxSize + ": must be in [1, " + (Integer.MAX_VALUE - 8) + "]");
        }
        if (maxItemBytes < 0 || maxItemBytes > MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("maxItemBytes " + maxItemBytes + ": must be in [0, " + MAX_PAYLOAD_BYTES + "]");
        }
        long largest = footprint(maxItemBytes, MAX_ID_BYTES);
        if (memoryBudgetBytes < largest) {
            throw new IllegalArgumentException("memoryBudgetBytes " + memoryBudgetBytes + ": must be >= " + largest
                    + ", what the largest item allowed takes (maxItemBytes + overhead + longest id)");
        }
    }

    /**
     * Reverb's queue, for on-policy learners: FIFO sampling, no eviction, and the {@link RateLimiter#queue}
     * limiter (at most {@code maxSize} items not yet sampled; a sample waits for one). Sample, train, then
     * {@link Table#remove} what was consumed.
     */
    public static TableConfig fifoQueue(long maxSize) {
        return new TableConfig(Sampler.fifo(), Remover.NONE, maxSize, RateLimiter.queue(maxSize), DEFAULT_MAX_ITEM_BYTES,
                DEFAULT_MEMORY_BUDGET_BYTES);
    }

    /** Uniform replay: the oldest item evicted when full, sampling once {@code minSizeToSample} items are in. */
    public static TableConfig uniformReplay(long maxSize, long minSizeToSample, long seed) {
        return new TableConfig(Sampler.uniform(seed), Remover.FIFO, maxSize, RateLimiter.minSize(minSizeToSample),
                DEFAULT_MAX_ITEM_BYTES, DEFAULT_MEMORY_BUDGET_BYTES);
    }

    /** Prioritized replay (priority^exponent), the oldest item evicted when full. */
    public static TableConfig prioritizedReplay(long maxSize, double exponent, long minSizeToSample, long seed) {
        return new TableConfig(Sampler.prioritized(exponent, seed), Remover.FIFO, maxSize,
                RateLimiter.minSize(minSizeToSample), DEFAULT_MAX_ITEM_BYTES, DEFAULT_MEMORY_BUDGET_BYTES);
    }

    public TableConfig withLimiter(RateLimiter l) {
        return new TableConfig(sampler, remover, maxSize, l, maxItemBytes, memoryBudgetBytes);
    }

    public TableConfig withRemover(Remover r) {
        return new TableConfig(sampler, r, maxSize, limiter, maxItemBytes, memoryBudgetBytes);
    }

    /** The same configuration with other byte bounds (validated together). */
    public TableConfig withBytes(long maxItem, long memoryBudget) {
        return new TableConfig(sampler, remover, maxSize, limiter, maxItem, memoryBudget);
    }

    /** Bytes an item with a payload of {@code payloadBytes} and an id of {@code idChars} characters takes. */
    public static long footprint(long payloadBytes, int idChars) {
        return payloadBytes + ITEM_OVERHEAD_BYTES + 2L * idChars;
    }
}
