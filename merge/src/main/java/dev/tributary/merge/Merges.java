package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Whole-model merges in memory, for callers that hold the models already (the coordinator folding
 * workers' updates, tests). Same code path as the {@code merge} command: {@link MergeJob}.
 */
public final class Merges {
    private Merges() {}

    /**
     * Merges weighted models with the method called {@code method}.
     *
     * <p>Each input's weight becomes its {@code weight} parameter for methods that take one (linear, the
     * task-arithmetic family, fisher, multi_krum); unweighted methods (median, trimmed_mean, krum, slerp,
     * model_stock) ignore it by design.
     *
     * @param base   base model, or null for methods without one
     * @param params top-level parameters, e.g. {@code Map.of("lambda", 0.5)}
     * @return the merged model, in the dtype of the inputs, its memory managed by the garbage collector
     */
    public static TensorMap merge(String method, List<? extends Weighted<? extends TensorSource>> inputs,
                                  TensorSource base, Map<String, Object> params) {
        MergeMethod m = MergeMethods.byName(method);
        boolean weighted = m.modelParameters().contains("weight");
        List<MergeJob.Input> models = new ArrayList<>(inputs.size());
        for (int i = 0; i < inputs.size(); i++) {
            Weighted<? extends TensorSource> w = inputs.get(i);
            models.add(new MergeJob.Input("input " + i, w.value(),
                    weighted ? Map.of("weight", w.weight()) : Map.of()));
        }
        return merge(m, models, base, params, null);
    }

    /**
     * Merges models with explicit per-model parameters.
     *
     * @param dtype dtype of the merged floating-point tensors, or null to keep the inputs'
     */
    public static TensorMap merge(MergeMethod method, List<MergeJob.Input> models, TensorSource base,
                                  Map<String, Object> params, DType dtype) {
        MergeJob job = MergeJob.prepare(method, models, base == null ? null : new MergeJob.Input("base", base),
                params, dtype);
        TensorMap out = new TensorMap();
        job.run((name, tensor) -> out.put(name, tensor.copy(Arena.ofAuto())), ProgressListener.NONE);
        return out;
    }
}
