package dev.tributary.merge;

import dev.tributary.tensor.Tensor;

import java.util.List;
import java.util.Map;

/**
 * One tensor of every model in a merge.
 *
 * @param name    the tensor's name (used in errors and to seed random methods)
 * @param models  the tensor in each model, in the order the method was bound with; any dtype, all the
 *                same dtype and shape
 * @param base    the tensor in the base model, or null when the merge has none
 * @param tensorParameters for each of the method's {@link MergeMethod#tensorParameters()}, one tensor per
 *                model with the same shape (e.g. the diagonal Fisher information for {@code fisher})
 */
public record TensorInputs(String name, List<Tensor> models, Tensor base, Map<String, List<Tensor>> tensorParameters) {

    public TensorInputs {
        models = List.copyOf(models);
        tensorParameters = Map.copyOf(tensorParameters);
    }

    /** Inputs without tensor-valued parameters. */
    public TensorInputs(String name, List<Tensor> models, Tensor base) {
        this(name, models, base, Map.of());
    }
}
