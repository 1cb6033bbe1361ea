package dev.tributary.coordinator.strategy;

import dev.tributary.merge.MergeException;
import dev.tributary.merge.MergeMethod;
import dev.tributary.merge.MergeMethods;
import dev.tributary.merge.MergeSpec;
import dev.tributary.merge.Merges;
import dev.tributary.merge.Weighted;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A merge method of the toolkit as an aggregator, through the same code as the {@code merge} command: each
 * worker's model θᵢ = θ + δᵢ is rebuilt, the method merges them (with θ as the base when it takes one, and
 * the weights as {@code weight} when it reads one), and the aggregate delta is the merged model − θ.
 * Rebuilding the models keeps methods that are not translation-invariant (slerp) meaning what they mean
 * on checkpoints.
 */
final class MergeAggregator implements Aggregator {
    private final String method;
    private final boolean withBase;
    private final Map<String, Object> params;

    private MergeAggregator(String method, boolean withBase, Map<String, Object> params) {
        this.method = method;
        this.withBase = withBase;
        this.params = params;
    }

    /**
     * Looks the method up and binds it once for every number of inputs in {@code counts}, so that unknown
     * parameters, bad values and an unsuitable number of updates fail at configuration time.
     *
     * @param path where the aggregator is configured, for messages
     */
    static Aggregator of(String path, String name, Map<String, Object> params, int... counts) {
        MergeMethod m;
        try {
            m = MergeMethods.byName(name);
        } catch (MergeException e) {
            throw new IllegalArgumentException(path + ": unknown aggregator \"" + name + "\" (known: mean, sum, "
                    + String.join(", ", MergeMethods.names()) + ")");
        }
        if (!m.tensorParameters().isEmpty()) {
            throw new IllegalArgumentException(path + ": " + name + " needs per-model tensors (" + String.join(", ",
                    m.tensorParameters()) + "), which updates do not carry");
        }
        Map<String, Object> weight = m.modelParameters().contains("weight") ? Map.of("weight", 1.0) : Map.of();
        for (int n : counts) {
            List<String> names = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                names.add("update " + i);
            }
            try {
                m.bind(new MergeSpec(names, Collections.nCopies(n, weight), params, m.requiresBase()));
            } catch (MergeException e) {
                throw new IllegalArgumentException(path + " " + name + " over " + n + " updates: " + e.getMessage());
            }
        }
        return new MergeAggregator(name, m.requiresBase(), Map.copyOf(params));
    }

    @Override
    public String name() {
        return method;
    }

    @Override
    public TensorMap aggregate(TensorMap base, List<Input> inputs) {
        List<Weighted<TensorSource>> models = new ArrayList<>(inputs.size());
        for (Input in : inputs) {
            models.add(new Weighted<>(TensorOps.add(base, in.delta()), in.weight()));
        }
        TensorMap merged = Merges.merge(method, models, withBase ? base : null, params);
        return TensorOps.subtract(merged, base);
    }
}
