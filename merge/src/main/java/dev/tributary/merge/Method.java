package dev.tributary.merge;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Common ground of the built-in methods: the parameter declarations, the checks on the number of models
 * and on the base, and the wrapping of the method's {@link Kernel} into a validating {@link TensorMerger}.
 */
abstract class Method implements MergeMethod {
    private final String name;
    private final List<ParamDef> globalDefs;
    private final List<ParamDef> modelDefs;
    private final boolean requiresBase;
    private final int minModels;
    private final int maxModels;

    Method(String name, List<ParamDef> globalDefs, List<ParamDef> modelDefs, boolean requiresBase,
           int minModels, int maxModels) {
        this.name = name;
        this.globalDefs = List.copyOf(globalDefs);
        this.modelDefs = List.copyOf(modelDefs);
        this.requiresBase = requiresBase;
        this.minModels = minModels;
        this.maxModels = maxModels;
    }

    /** Builds the per-tensor function from validated parameters; throws {@link MergeException} on bad values. */
    abstract Kernel kernel(Bound params);

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final Set<String> parameters() {
        return names(globalDefs, false);
    }

    @Override
    public final Set<String> modelParameters() {
        return names(modelDefs, false);
    }

    @Override
    public final Set<String> tensorParameters() {
        return names(modelDefs, true);
    }

    @Override
    public final boolean requiresBase() {
        return requiresBase;
    }

    @Override
    public final TensorMerger bind(MergeSpec spec) {
        int n = spec.models().size();
        String others = requiresBase ? " besides the base model" : "";
        if (n < minModels) {
            throw new MergeException("models: " + name + " needs at least " + minModels + " model"
                    + (minModels == 1 ? "" : "s") + others + ", got " + n);
        }
        if (n > maxModels) {
            throw new MergeException("models: " + name + " takes at most " + maxModels + " model"
                    + (maxModels == 1 ? "" : "s") + others + ", got " + n);
        }
        if (requiresBase && !spec.hasBase()) {
            throw new MergeException("base_model: required by " + name);
        }
        if (!requiresBase && spec.hasBase()) {
            throw new MergeException("base_model: " + name + " takes no base model");
        }
        Bound bound = Bound.resolve(this, spec);
        return new TensorMerger(name, spec.models(), spec.hasBase(), tensorParameters(), kernel(bound));
    }

    List<ParamDef> globalDefs() {
        return globalDefs;
    }

    List<ParamDef> modelDefs() {
        return modelDefs;
    }

    ParamDef globalDef(String key) {
        return find(globalDefs, key);
    }

    ParamDef modelDef(String key) {
        return find(modelDefs, key);
    }

    private static ParamDef find(List<ParamDef> defs, String key) {
        for (ParamDef d : defs) {
            if (d.name().equals(key)) {
                return d;
            }
        }
        return null;
    }

    private static Set<String> names(List<ParamDef> defs, boolean tensors) {
        Set<String> out = new LinkedHashSet<>();
        for (ParamDef d : defs) {
            if ((d.kind() == ParamDef.Kind.TENSORS) == tensors) {
                out.add(d.name());
            }
        }
        return Set.copyOf(out);
    }

    @Override
    public String toString() {
        return name;
    }
}
