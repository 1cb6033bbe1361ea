package dev.tributary.merge;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link MergeMethod} is bound to: the models being merged (not counting the base), their
 * parameters, the top-level parameters and whether a base model takes part.
 *
 * @param models          display names of the models, in input order (used in error messages and as
 *                        the model index that seeds random methods)
 * @param modelParameters one map per model: parameter name to a {@link Number}, {@link Boolean} or, for
 *                        {@link MergeMethod#tensorParameters()}, a {@link dev.tributary.tensor.TensorSource}
 * @param parameters      top-level parameters; those a method reads per model act as defaults for all
 * @param hasBase         whether a base model is given
 */
public record MergeSpec(List<String> models, List<Map<String, Object>> modelParameters,
                        Map<String, Object> parameters, boolean hasBase) {

    public MergeSpec {
        models = List.copyOf(models);
        if (modelParameters.size() != models.size()) {
            throw new IllegalArgumentException("modelParameters has " + modelParameters.size()
                    + " entries for " + models.size() + " models");
        }
        List<Map<String, Object>> copies = new ArrayList<>(modelParameters.size());
        for (Map<String, Object> m : modelParameters) {
            copies.add(Collections.unmodifiableMap(new LinkedHashMap<>(m)));
        }
        modelParameters = List.copyOf(copies);
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }
}
