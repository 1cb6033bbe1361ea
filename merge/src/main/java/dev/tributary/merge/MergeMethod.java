package dev.tributary.merge;

import java.util.Set;

/**
 * A way of combining several models' weights into one: the merge methods of mergekit and the robust
 * aggregators of federated learning. Implementations are pure: no I/O, no hidden state between merges,
 * the same numbers whether the inputs are memory-mapped checkpoints or workers' updates held in memory.
 *
 * <p>Call order: {@link #bind} once with the models' parameters, which validates every parameter and
 * returns a {@link TensorMerger}; then, tensor by tensor, {@link TensorMerger#merge}. A method that needs
 * the whole model before it can decide anything (krum) reports {@link TensorMerger#twoPass()}, and the
 * caller first shows it every tensor through {@link TensorMerger#observe}. Either way only the tensor
 * at hand has to be resident, so merging streams.
 *
 * <p>Parameters follow mergekit: a model's own parameters first, then the top-level ones (which act as
 * defaults for every model), then the method's defaults. Unknown parameters are errors.
 * Find methods by name with {@link MergeMethods#byName}.
 */
public interface MergeMethod {

    /** The method's name as mergekit (or Flower, for the aggregators) spells it, e.g. {@code "ties"}. */
    String name();

    /** Top-level parameters the method reads (e.g. {@code normalize}, {@code lambda}, {@code t}). */
    Set<String> parameters();

    /** Per-model parameters the method reads (e.g. {@code weight}, {@code density}). */
    Set<String> modelParameters();

    /**
     * Per-model parameters whose value is a set of tensors with the model's own names and shapes, given
     * as a {@link dev.tributary.tensor.TensorSource} (in a YAML config, a path): {@code fisher}.
     */
    default Set<String> tensorParameters() {
        return Set.of();
    }

    /** Whether the method needs a base model ({@code base_model}); methods that do not refuse one. */
    boolean requiresBase();

    /**
     * Validates the parameters of this merge and returns the per-tensor function.
     *
     * @throws MergeException naming the model and key of the first unknown, missing or invalid parameter,
     *                        or the rule on the number of models or the base model that is broken
     */
    TensorMerger bind(MergeSpec spec);
}
