package dev.tributary.coordinator.strategy;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A new global model was published.
 *
 * @param version   the new version (the previous one + 1)
 * @param updateIds the updates merged into it, in arrival order
 * @param metrics   their metrics averaged with the examples as weights (Flower's weighted_loss_avg), per
 *                  metric over the updates that report it, sorted by name
 */
public record Published(long version, List<String> updateIds, Map<String, Double> metrics) implements Decision {

    public Published {
        updateIds = List.copyOf(updateIds);
        metrics = Collections.unmodifiableMap(new TreeMap<>(metrics));
    }
}
