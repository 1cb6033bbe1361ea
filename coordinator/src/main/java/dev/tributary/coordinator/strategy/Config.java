package dev.tributary.coordinator.strategy;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Reads a strategy's configuration map (as YAML or a command line gives it) with messages that name the
 * key and the rule. Every key must be read: {@link #finish()} refuses the ones nobody asked for, so that
 * a misspelt key is an error rather than a silently ignored setting.
 */
final class Config {
    private final String prefix;
    private final Map<String, Object> values;
    private final Set<String> read = new LinkedHashSet<>();

    Config(String prefix, Map<String, ?> values) {
        this.prefix = prefix;
        this.values = new LinkedHashMap<>(values == null ? Map.of() : values);
    }

    /** A section given either as a bare name ({@code adam}) or as a map holding {@code name}. */
    static Config section(String prefix, Object value, String defaultName) {
        if (value == null) {
            return new Config(prefix, Map.of("name", defaultName));
        }
        if (value instanceof String s) {
            return new Config(prefix, Map.of("name", s));
        }
        if (value instanceof Map<?, ?> m) {
            Map<String, Object> copy = new LinkedHashMap<>();
            m.forEach((k, v) -> copy.put(String.valueOf(k), v));
            copy.putIfAbsent("name", defaultName);
            return new Config(prefix, copy);
        }
        throw new IllegalArgumentException(prefix + ": must be a name or a map, got " + value);
    }

    boolean has(String key) {
        return values.containsKey(key);
    }

    Object raw(String key) {
        read.add(key);
        return values.get(key);
    }

    String path(String key) {
        return prefix + "." + key;
    }

    String text(String key, String dflt) {
        Object v = raw(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof String s) || s.isBlank()) {
            throw new IllegalArgumentException(path(key) + ": must be a non-empty string, got " + v);
        }
        return s;
    }

    double number(String key, double dflt) {
        Object v = raw(key);
        if (v == null) {
            return dflt;
        }
        double d;
        if (v instanceof Number n) {
            d = n.doubleValue();
        } else if (v instanceof String s) {
            try {
                d = Double.parseDouble(s.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(path(key) + ": must be a number, got \"" + s + "\"");
            }
        } else {
            throw new IllegalArgumentException(path(key) + ": must be a number, got " + v);
        }
        if (!Double.isFinite(d)) {
            throw new IllegalArgumentException(path(key) + ": must be finite, got " + d);
        }
        return d;
    }

    double positive(String key, double dflt) {
        double d = number(key, dflt);
        if (!(d > 0)) {
            throw new IllegalArgumentException(path(key) + ": must be > 0, got " + d);
        }
        return d;
    }

    double nonNegative(String key, double dflt) {
        double d = number(key, dflt);
        if (!(d >= 0)) {
            throw new IllegalArgumentException(path(key) + ": must be >= 0, got " + d);
        }
        return d;
    }

    long whole(String key, long dflt, long min) {
        Object v = raw(key);
        if (v == null) {
            return dflt;
        }
        long n;
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            n = ((Number) v).longValue();
        } else if (v instanceof Number num && num.doubleValue() == Math.rint(num.doubleValue())
                && Math.abs(num.doubleValue()) < 0x1p53) {
            n = (long) num.doubleValue();
        } else if (v instanceof String s && s.strip().matches("-?\\d{1,18}")) {
            n = Long.parseLong(s.strip());
        } else {
            throw new IllegalArgumentException(path(key) + ": must be a whole number >= " + min + ", got " + v);
        }
        if (n < min) {
            throw new IllegalArgumentException(path(key) + ": must be a whole number >= " + min + ", got " + n);
        }
        return n;
    }

    int count(String key, int dflt, int min) {
        long n = whole(key, dflt, min);
        if (n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(path(key) + ": must be <= " + Integer.MAX_VALUE + ", got " + n);
        }
        return (int) n;
    }

    boolean flag(String key, boolean dflt) {
        Object v = raw(key);
        if (v == null) {
            return dflt;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        if ("true".equals(v) || "false".equals(v)) {
            return Boolean.parseBoolean((String) v);
        }
        throw new IllegalArgumentException(path(key) + ": must be true or false, got " + v);
    }

    /** A map-valued key, with string keys; empty when absent. */
    Map<String, Object> map(String key) {
        Object v = raw(key);
        if (v == null) {
            return Map.of();
        }
        if (!(v instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(path(key) + ": must be a map, got " + v);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        m.forEach((k, val) -> out.put(String.valueOf(k), val));
        return out;
    }

    /** Refuses keys that were never read. */
    void finish() {
        Set<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(read);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(prefix + ": unknown key \"" + unknown.iterator().next() + "\" (known: "
                    + String.join(", ", new TreeSet<>(read)) + ")");
        }
    }
}
