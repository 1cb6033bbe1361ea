package dev.tributary.sim;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds configurations for tests from YAML-shaped maps, on the fast synthetic-logreg task. */
final class Configs {
    private Configs() {}

    /** A small synthetic-logreg run: {@code clients} clients, strategy {@code strategy}, the rest default. */
    static Map<String, Object> synthetic(int clients, Map<String, Object> strategy, double budgetSeconds) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("task", "synthetic-logreg");
        m.put("clients", clients);
        m.put("seed", 7);
        m.put("speeds", new LinkedHashMap<>(Map.of("distribution", "lognormal", "spread", 10, "median", 64)));
        m.put("strategy", new LinkedHashMap<>(strategy));
        m.put("local", new LinkedHashMap<>(Map.of("steps", 5)));
        m.put("budget", new LinkedHashMap<>(Map.of("virtual_seconds", budgetSeconds)));
        m.put("target", 0.8);
        m.put("eval_every", budgetSeconds / 20);
        return m;
    }

    static SimConfig parse(Map<String, Object> m) {
        return SimConfig.parse(m, Path.of("."), "test.yaml");
    }

    /** {@code m} with {@code key} set (a dotted key sets inside a section). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> with(Map<String, Object> m, String key, Object value) {
        Map<String, Object> copy = deepCopy(m);
        int dot = key.indexOf('.');
        if (dot < 0) {
            copy.put(key, value);
        } else {
            Map<String, Object> inner = (Map<String, Object>) copy.computeIfAbsent(key.substring(0, dot),
                    k -> new LinkedHashMap<>());
            inner.put(key.substring(dot + 1), value);
        }
        return copy;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> deepCopy(Map<String, Object> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v instanceof Map<?, ?> inner ? deepCopy((Map<String, Object>) inner) : v));
        return out;
    }
}
