package dev.tributary.coordinator;

import dev.tributary.tensor.TensorMap;
import java.util.List;

/**
 * A version that became durable and visible.
 *
 * @param version            the new version
 * @param updateIds          the updates merged into it (empty for a round a deadline closed with none new)
 * @param meanStaleness      mean staleness of those updates when they arrived
 * @param aggregationMillis  time the strategy spent on them (deciding and merging)
 * @param model              the published weights; never mutated afterwards
 */
public record Publication(long version, List<String> updateIds, double meanStaleness, double aggregationMillis,
        TensorMap model) {
    public Publication {
        updateIds = List.copyOf(updateIds);
    }

    /** One line for a log: {@code version 12: 10 updates, staleness mean 1.30, aggregation 4.2 ms}. */
    public String describe() {
        return String.format("version %d: %d update%s, staleness mean %.2f, aggregation %.1f ms", version, updateIds.size(),
                updateIds.size() == 1 ? "" : "s", meanStaleness, aggregationMillis);
    }
}
