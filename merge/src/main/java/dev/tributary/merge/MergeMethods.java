package dev.tributary.merge;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/** The built-in merge methods, found by the name mergekit (or Flower) gives them. */
public final class MergeMethods {
    private static final Map<String, MergeMethod> BY_NAME = new LinkedHashMap<>();

    static {
        for (MergeMethod m : List.of(new Linear(), new TaskArithmetic(), new Ties(), new DareLinear(), new DareTies(),
                new Breadcrumbs(), new BreadcrumbsTies(), new Della(), new DellaLinear(), new Slerp(), new ModelStock(),
                new Fisher(), new Median(), new TrimmedMean(), new Krum(), new MultiKrum(), new Passthrough())) {
            BY_NAME.put(m.name(), m);
        }
    }

    private MergeMethods() {}

    /**
     * The method called {@code name}.
     *
     * @throws MergeException naming the unknown method and listing the known ones
     */
    public static MergeMethod byName(String name) {
        MergeMethod m = BY_NAME.get(name);
        if (m == null) {
            throw new MergeException("merge_method: unknown method " + (name == null ? "null" : "\"" + name + "\"")
                    + " (known: " + String.join(", ", BY_NAME.keySet()) + ")");
        }
        return m;
    }

    /**
     * Checks a top-level parameter name: one of the method's own or of its per-model parameters (which
     * the top level gives to every model).
     *
     * @throws MergeException {@code parameters.KEY: unknown parameter for METHOD (known: ...)}
     */
    public static void checkParameter(MergeMethod method, String key) {
        if (!method.parameters().contains(key) && !method.modelParameters().contains(key)) {
            TreeSet<String> known = new TreeSet<>(method.parameters());
            known.addAll(method.modelParameters());
            throw new MergeException("parameters." + key + ": unknown parameter for " + method.name() + " (known: "
                    + (known.isEmpty() ? "none" : String.join(", ", known)) + ")");
        }
    }

    /**
     * Checks a per-model parameter name.
     *
     * @param where the model, e.g. {@code models[1] (b.safetensors)}
     * @throws MergeException {@code WHERE: parameters.KEY: unknown parameter for METHOD (known per model: ...)}
     */
    public static void checkModelParameter(MergeMethod method, String where, String key) {
        if (!method.modelParameters().contains(key) && !method.tensorParameters().contains(key)) {
            throw new MergeException(where + ": parameters." + key + ": unknown parameter for " + method.name()
                    + " (known per model: " + String.join(", ", new TreeSet<>(method.modelParameters())) + ")");
        }
    }

    /** Every built-in method, in a fixed order. */
    public static List<MergeMethod> all() {
        return List.copyOf(BY_NAME.values());
    }

    /** The names of the built-in methods. */
    public static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }
}
