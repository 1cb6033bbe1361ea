package dev.tributary.merge;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The built-in merge methods, found by the name mergekit (or Flower) gives them. */
public final class MergeMethods {
    private static final Map<String, MergeMethod> BY_NAME = new LinkedHashMap<>();

    static {
        for (MergeMethod m : List.of(new Linear(), new TaskArithmetic(), new Ties(), new DareLinear(), new DareTies(),
                new Breadcrumbs(), new BreadcrumbsTies(), new Slerp(), new ModelStock(), new Fisher(), new Median(),
                new TrimmedMean(), new Krum(), new MultiKrum())) {
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

    /** Every built-in method, in a fixed order. */
    public static List<MergeMethod> all() {
        return List.copyOf(BY_NAME.values());
    }

    /** The names of the built-in methods. */
    public static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }
}
