package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.util.Map;
import java.util.Objects;

/**
 * One worker's contribution, already authenticated and validated.
 *
 * @param id          unique id of this update (idempotence key)
 * @param baseVersion the model version the worker pulled and trained from
 * @param examples    training examples behind the update (the FedAvg weight)
 * @param localSteps  local optimizer steps taken
 * @param delta       trained − pulled weights, f32, with the model's names and shapes (for Streaming DiLoCo,
 *                    at least the tensors of the fragment being synced)
 * @param metrics     training metrics (loss, accuracy, …), averaged by examples into {@link Published#metrics()}
 * @param worker      the worker that pushed it, as the log records it; empty when unknown (each such update then
 *                    counts as a worker of its own wherever staleness is counted in workers)
 */
public record Update(String id, long baseVersion, long examples, int localSteps, TensorMap delta,
        Map<String, Double> metrics, String worker) {

    public Update {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(worker, "worker");
        Objects.requireNonNull(delta, "delta");
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
        if (baseVersion < 0) {
            throw new IllegalArgumentException("update " + id + ": baseVersion < 0: " + baseVersion);
        }
        if (examples < 0) {
            throw new IllegalArgumentException("update " + id + ": examples < 0: " + examples);
        }
        if (localSteps < 0) {
            throw new IllegalArgumentException("update " + id + ": localSteps < 0: " + localSteps);
        }
    }

    /** An update whose worker is not known. */
    public Update(String id, long baseVersion, long examples, int localSteps, TensorMap delta,
            Map<String, Double> metrics) {
        this(id, baseVersion, examples, localSteps, delta, metrics, "");
    }

    /**
     * This update's bookkeeping (id, base version, examples, steps, metrics) without its delta, for a strategy
     * that folded the delta in and must not read it again: its memory may be reused from then on.
     */
    public Update withoutDelta() {
        return new Update(id, baseVersion, examples, localSteps, new TensorMap(), metrics, worker);
    }
}
