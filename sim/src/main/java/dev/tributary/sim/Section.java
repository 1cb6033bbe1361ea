package dev.tributary.sim;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One map of a YAML configuration, read key by key with messages that name the file, the key and the
 * rule. Every key must be read before {@link #finish()}, which refuses the rest, so that a misspelt key
 * is an error rather than a setting silently ignored.
 */
final class Section {
    private final String source;
    private final String path;
    private final Map<String, Object> values = new LinkedHashMap<>();
    private final Set<String> read = new LinkedHashSet<>();

    private Section(String source, String path, Map<?, ?> values) {
        this.source = source;
        this.path = path;
        values.forEach((k, v) -> this.values.put(String.valueOf(k), v));
    }

    /** The top level of a document; {@code source} names it in messages (usually the file). */
    static Section root(String source, Object document) {
        if (document == null) {
            return new Section(source, "", Map.of());
        }
        if (!(document instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(source + ": the top level must be a map of settings");
        }
        return new Section(source, "", m);
    }

    boolean has(String key) {
        return values.containsKey(key) && values.get(key) != null;
    }

    /** {@code key} with its section path, as messages show it: {@code speeds.spread}. */
    String where(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    IllegalArgumentException error(String key, String rule) {
        return new IllegalArgumentException(source + ": " + where(key) + ": " + rule);
    }

    Object raw(String key) {
        read.add(key);
        return values.get(key);
    }

    /** A nested map; an absent key gives an empty section. */
    Section section(String key) {
        Object v = raw(key);
        if (v == null) {
            return new Section(source, where(key), Map.of());
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw error(key, "must be a map, got " + v);
        }
        return new Section(source, where(key), m);
    }

    /** A nested map as plain values (for settings another component checks itself). */
    Map<String, Object> map(String key) {
        Object v = raw(key);
        if (v == null) {
            return Map.of();
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw error(key, "must be a map, got " + v);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, val) -> out.put(String.valueOf(k), val));
        return out;
    }

    String text(String key, String dflt) {
        Object v = raw(key);
        if (v == null) {
            if (dflt == null) {
                throw error(key, "is required");
            }
            return dflt;
        }
        if (!(v instanceof String s) || s.isBlank()) {
            throw error(key, "must be a non-empty string, got " + v);
        }
        return s;
    }

    double number(String key, double dflt) {
        Object v = raw(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Number n)) {
            throw error(key, "must be a number, got \"" + v + "\"");
        }
        double d = n.doubleValue();
        if (!Double.isFinite(d)) {
            throw error(key, "must be finite, got " + d);
        }
        return d;
    }

    double positive(String key, double dflt) {
        double d = number(key, dflt);
        if (!(d > 0)) {
            throw error(key, "must be > 0, got " + d);
        }
        return d;
    }

    double nonNegative(String key, double dflt) {
        double d = number(key, dflt);
        if (!(d >= 0)) {
            throw error(key, "must be >= 0, got " + d);
        }
        return d;
    }

    long whole(String key, long dflt, long min) {
        Object v = raw(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Integer || v instanceof Long || v instanceof java.math.BigInteger)) {
            throw error(key, "must be a whole number, got " + v);
        }
        if (v instanceof java.math.BigInteger b && b.bitLength() > 63) {
            throw error(key, "must fit in 64 bits, got " + v);
        }
        long n = ((Number) v).longValue();
        if (n < min) {
            throw error(key, "must be >= " + min + ", got " + n);
        }
        return n;
    }

    int count(String key, int dflt, int min) {
        long n = whole(key, dflt, min);
        if (n > Integer.MAX_VALUE) {
            throw error(key, "must be <= " + Integer.MAX_VALUE + ", got " + n);
        }
        return (int) n;
    }

    /** Refuses keys that were never read. */
    void finish() {
        Set<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(read);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(source + ": unknown key \"" + where(unknown.iterator().next())
                    + "\" (known" + (path.isEmpty() ? "" : " in " + path) + ": "
                    + String.join(", ", new TreeSet<>(read)) + ")");
        }
    }
}
