package dev.tributary.store;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Objects;

/**
 * One record of the update log: an update the strategy took in, exactly as it was applied.
 *
 * @param version the model version current right after the strategy took the update in
 * @param staleness current version − base version when it arrived
 * @param delta the delta's safetensors bytes; for records read back by {@link LogScan}, a view valid only
 *     while the visitor runs
 */
public record AcceptedUpdate(String updateId, String workerId, long baseVersion, long examples, int localSteps,
        Map<String, Double> metrics, long version, long staleness, MemorySegment delta) implements LogRecord {
    public AcceptedUpdate {
        Objects.requireNonNull(updateId, "updateId");
        Objects.requireNonNull(workerId, "workerId");
        metrics = Map.copyOf(metrics);
        Objects.requireNonNull(delta, "delta");
    }
}
