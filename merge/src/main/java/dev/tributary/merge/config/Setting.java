package dev.tributary.merge.config;

import dev.tributary.merge.MergeException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parameter's value as mergekit's YAML writes it, evaluated for one tensor at a relative depth t
 * (0 for the first layer of a slice and for tensors outside the layers, 1 for its last layer):
 *
 * <ul>
 *   <li>a scalar ({@code 0.5}, {@code true}, a path): the same everywhere;</li>
 *   <li>a gradient ({@code [0, 0.5, 1]}): anchors spread evenly over the layers, linearly
 *       interpolated: with s = t·(n − 1), i = ⌊s⌋, the value is (1 − (s − i))·vᵢ + (s − i)·v_min(i+1, n−1)
 *       (a list of booleans steps instead: v_⌊t·(n−1)⌋);</li>
 *   <li>filters ({@code [{filter: self_attn, value: 0.5}, {value: 0}]}): the first entry whose filter is
 *       absent, {@code "*"}, or a substring of the tensor's name gives the value (itself a scalar or
 *       a gradient); when none matches, the setting gives nothing and the next level is asked (a
 *       model's own parameters, then the slice's, then the top level, then the method's default).</li>
 * </ul>
 */
public sealed interface Setting {

    /** The value for {@code tensor} at depth {@code t}, or null when no filter matches. */
    Object evaluate(String tensor, double t);

    /** A value that is the same for every tensor. */
    record Scalar(Object value) implements Setting {
        @Override
        public Object evaluate(String tensor, double t) {
            return value;
        }
    }

    /** Values spread over the layers: numbers are interpolated, booleans step. */
    record Gradient(List<Object> values) implements Setting {
        public Gradient {
            values = List.copyOf(values);
        }

        @Override
        public Object evaluate(String tensor, double t) {
            int n = values.size();
            double scaled = t * (n - 1);
            int i0 = (int) scaled;
            if (!(values.getFirst() instanceof Number)) {
                return values.get(i0);
            }
            int i1 = Math.min(n - 1, i0 + 1);
            double frac = scaled - i0;
            return (1 - frac) * ((Number) values.get(i0)).doubleValue() + frac * ((Number) values.get(i1)).doubleValue();
        }
    }

    /** Filters tried in order. */
    record Filtered(List<Condition> conditions) implements Setting {
        public Filtered {
            conditions = List.copyOf(conditions);
        }

        @Override
        public Object evaluate(String tensor, double t) {
            for (Condition c : conditions) {
                if (c.filter() == null || c.filter().equals("*") || (!tensor.isEmpty() && tensor.contains(c.filter()))) {
                    return c.value().evaluate(tensor, t);
                }
            }
            return null;
        }
    }

    /**
     * One entry of a filter list.
     *
     * @param filter a substring of tensor names, {@code "*"}, or null for "every tensor"
     * @param value  a {@link Scalar} or a {@link Gradient}
     */
    record Condition(String filter, Setting value) {}

    /**
     * Reads a YAML value.
     *
     * @param where the key's place in the file, for errors ({@code merge.yaml: models[1].parameters.weight})
     * @throws MergeException naming {@code where} and the rule the value breaks
     */
    static Setting parse(Object raw, String where) {
        if (raw == null) {
            throw new MergeException(where + ": has no value");
        }
        if (raw instanceof List<?> list) {
            if (!list.isEmpty() && list.stream().allMatch(e -> e instanceof Map<?, ?>)) {
                List<Condition> conditions = new ArrayList<>();
                for (int i = 0; i < list.size(); i++) {
                    conditions.add(condition((Map<?, ?>) list.get(i), where + "[" + i + "]"));
                }
                return new Filtered(conditions);
            }
            return gradient(list, where);
        }
        if (raw instanceof Map<?, ?> map) {
            return new Filtered(List.of(condition(map, where)));
        }
        return new Scalar(raw);
    }

    private static Gradient gradient(List<?> list, String where) {
        if (list.isEmpty()) {
            throw new MergeException(where + ": an empty list; a gradient needs at least one value");
        }
        boolean numbers = list.stream().allMatch(e -> e instanceof Number);
        boolean booleans = list.stream().allMatch(e -> e instanceof Boolean);
        if (!numbers && !booleans) {
            throw new MergeException(where + ": " + list + " mixes kinds; a list is a gradient of numbers (or "
                    + "booleans) or a list of {filter, value} entries");
        }
        if (numbers && list.stream().anyMatch(e -> !Double.isFinite(((Number) e).doubleValue()))) {
            throw new MergeException(where + ": " + list + " holds a value that is not finite");
        }
        return new Gradient(new ArrayList<>(list));
    }

    private static Condition condition(Map<?, ?> map, String where) {
        for (Object key : map.keySet()) {
            if (!"filter".equals(key) && !"value".equals(key)) {
                throw new MergeException(where + ": key " + key + ": unknown (known: filter, value)");
            }
        }
        if (!map.containsKey("value") || map.get("value") == null) {
            throw new MergeException(where + ": a {filter, value} entry needs a value");
        }
        Object filter = map.get("filter");
        if (filter != null && (!(filter instanceof String s) || s.isEmpty())) {
            throw new MergeException(where + ".filter: expected a non-empty substring of tensor names, got " + filter);
        }
        Object value = map.get("value");
        Setting inner = value instanceof List<?> l ? gradient(l, where + ".value") : new Scalar(value);
        if (value instanceof Map<?, ?>) {
            throw new MergeException(where + ".value: expected a number or a gradient list, got a map");
        }
        return new Condition((String) filter, inner);
    }

    /** Settings evaluated for one tensor; keys whose filters all miss are left out. */
    static Map<String, Object> evaluate(Map<String, Setting> settings, String tensor, double t) {
        Map<String, Object> out = new LinkedHashMap<>();
        settings.forEach((k, s) -> {
            Object v = s.evaluate(tensor, t);
            if (v != null) {
                out.put(k, v);
            }
        });
        return Collections.unmodifiableMap(out);
    }
}
