package dev.tributary.codec;

import dev.tributary.tensor.DType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses codec specs {@code NAME[:k=v,…][+NAME[:k=v,…]]}. Only {@code topk} may be followed by a value
 * codec. Every refusal is one line naming the bad part and the valid choices.
 */
final class CodecSpec {
    private CodecSpec() {}

    static final List<String> NAMES = List.of("f16", "bf16", "int8", "int4", "fp4", "fp8", "topk", "lossless");
    /** Codecs that may code the values kept by top-k. */
    private static final List<String> VALUE_CODECS = List.of("f16", "bf16", "int8", "int4", "fp4", "fp8");
    static final int DEFAULT_GROUP = 64;
    /** FP4's default group: the block size of the OCP MX formats. */
    static final int FP4_DEFAULT_GROUP = 32;
    static final int MAX_GROUP = 1 << 24;
    static final double DEFAULT_FRACTION = 0.01;
    static final int DEFAULT_LEVEL = 3;
    static final int MAX_LEVEL = 19;

    static TensorCodec parse(String spec) {
        if (spec == null || spec.isBlank()) {
            throw new IllegalArgumentException("codec spec is empty (valid codecs: " + String.join(", ", NAMES) + ")");
        }
        String s = spec.strip();
        String[] parts = s.split("\\+", -1);
        if (parts.length >= 2 && name(parts[parts.length - 1]).equals("lossless")) {
            return stage(s, parts);
        }
        if (parts.length > 2) {
            throw new IllegalArgumentException("codec spec " + quote(s) + " chains " + parts.length
                    + " codecs; at most topk[:fraction=F]+VALUE_CODEC (VALUE_CODEC one of "
                    + String.join(", ", VALUE_CODECS) + "), then +lossless");
        }
        for (String part : parts) {
            if (name(part).isEmpty()) {
                throw new IllegalArgumentException("codec spec " + quote(s) + " has an empty codec name (valid: "
                        + String.join(", ", NAMES) + ")");
            }
        }
        TensorCodec first = one(parts[0], s);
        if (parts.length == 1) {
            return first;
        }
        if (!(first instanceof TopKCodec)) {
            throw new IllegalArgumentException("codec spec " + quote(s) + ": only topk may be followed by +CODEC"
                    + " (e.g. topk:fraction=0.01+int8), not " + quote(parts[0]));
        }
        String valueName = name(parts[1]);
        if (!VALUE_CODECS.contains(valueName)) {
            throw new IllegalArgumentException("codec spec " + quote(s) + ": topk values cannot be coded by "
                    + quote(valueName) + " (valid: " + String.join(", ", VALUE_CODECS) + ")");
        }
        Map<String, String> p = params(parts[0], s, Set.of("fraction"));
        return new TopKCodec(fraction(p), one(parts[1], s));
    }

    /** {@code LOSSY+lossless[:level=L]}: a lossless stage over a lossy codec's payload. */
    private static TensorCodec stage(String whole, String[] parts) {
        String last = parts[parts.length - 1];
        int level = level(params(last, whole, Set.of("level")));
        String lossy = whole.substring(0, whole.lastIndexOf('+')).strip();
        if (lossy.isEmpty() || name(parts[0]).isEmpty()) {
            throw new IllegalArgumentException("codec spec " + quote(whole) + " has an empty codec name (valid: "
                    + String.join(", ", NAMES) + ")");
        }
        TensorCodec inner = parse(lossy);
        if (inner.isLossless() || inner instanceof LosslessStage) {
            throw new IllegalArgumentException("codec spec " + quote(whole) + ": +lossless follows a lossy codec"
                    + " (e.g. int4+lossless), not " + quote(lossy));
        }
        return new LosslessStage(inner, level);
    }

    private static TensorCodec one(String part, String whole) {
        String name = name(part);
        return switch (name) {
            case "f16" -> { params(part, whole, Set.of()); yield new HalfCodec(DType.F16); }
            case "bf16" -> { params(part, whole, Set.of()); yield new HalfCodec(DType.BF16); }
            case "fp8" -> { params(part, whole, Set.of()); yield new Fp8Codec(); }
            case "int8" -> new Int8Codec(group(params(part, whole, Set.of("group")), "int8"));
            case "int4" -> new Int4Codec(group(params(part, whole, Set.of("group")), "int4"));
            case "fp4" -> new Fp4Codec(group(params(part, whole, Set.of("group")), "fp4", FP4_DEFAULT_GROUP));
            case "topk" -> new TopKCodec(fraction(params(part, whole, Set.of("fraction"))), null);
            case "lossless" -> new LosslessCodec(level(params(part, whole, Set.of("level"))));
            default -> throw new IllegalArgumentException("unknown codec " + quote(name) + " in " + quote(whole)
                    + " (valid: " + String.join(", ", NAMES) + ")");
        };
    }

    private static String name(String part) {
        int colon = part.indexOf(':');
        return (colon < 0 ? part : part.substring(0, colon)).strip();
    }

    private static Map<String, String> params(String part, String whole, Set<String> valid) {
        String name = name(part);
        Map<String, String> out = new LinkedHashMap<>();
        int colon = part.indexOf(':');
        if (colon < 0) {
            return out;
        }
        String validText = valid.isEmpty() ? "it takes none" : "valid: " + String.join(", ", valid.stream().sorted().toList());
        for (String kv : part.substring(colon + 1).split(",", -1)) {
            int eq = kv.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException(name + ": parameter " + quote(kv.strip()) + " in " + quote(whole)
                        + " is not key=value (" + validText + ")");
            }
            String key = kv.substring(0, eq).strip();
            String value = kv.substring(eq + 1).strip();
            if (!valid.contains(key)) {
                throw new IllegalArgumentException(name + ": unknown parameter " + quote(key) + " in " + quote(whole)
                        + " (" + validText + ")");
            }
            if (out.put(key, value) != null) {
                throw new IllegalArgumentException(name + ": parameter " + key + " given twice in " + quote(whole));
            }
        }
        return out;
    }

    private static int group(Map<String, String> p, String codec) {
        return group(p, codec, DEFAULT_GROUP);
    }

    private static int group(Map<String, String> p, String codec, int dflt) {
        String v = p.get("group");
        if (v == null) {
            return dflt;
        }
        return integer(v, codec + ": group", 1, MAX_GROUP);
    }

    private static int level(Map<String, String> p) {
        String v = p.get("level");
        return v == null ? DEFAULT_LEVEL : integer(v, "lossless: level", 1, MAX_LEVEL);
    }

    private static int integer(String v, String what, int min, int max) {
        try {
            int n = Integer.parseInt(v);
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below with the rule
        }
        throw new IllegalArgumentException(what + "=" + v + " must be an integer in [" + min + ", " + max + "]");
    }

    private static double fraction(Map<String, String> p) {
        String v = p.get("fraction");
        if (v == null) {
            return DEFAULT_FRACTION;
        }
        try {
            double f = Double.parseDouble(v);
            if (f > 0 && f <= 1 && !v.endsWith("d") && !v.endsWith("f") && !v.endsWith("D") && !v.endsWith("F")) {
                return f;
            }
        } catch (NumberFormatException e) {
            // refused below with the rule
        }
        throw new IllegalArgumentException("topk: fraction=" + v + " must be a number in (0, 1]");
    }

    private static String quote(String s) {
        return Format.quote(s);
    }
}
