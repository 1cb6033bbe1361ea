package dev.tributary.merge;

import dev.tributary.tensor.TensorSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A method's parameters resolved against a {@link MergeSpec}: every key checked against the method's
 * declarations, every value converted to its kind, the model-then-top-level-then-default lookup done.
 */
final class Bound {
    private final Method method;
    private final MergeSpec spec;
    private final Map<String, Object> global = new HashMap<>();
    private final List<Map<String, Object>> perModel = new ArrayList<>();

    private Bound(Method method, MergeSpec spec) {
        this.method = method;
        this.spec = spec;
    }

    static Bound resolve(Method method, MergeSpec spec) {
        Bound b = new Bound(method, spec);
        b.resolveGlobal();
        b.resolveModels();
        return b;
    }

    private void resolveGlobal() {
        for (Map.Entry<String, Object> e : spec.parameters().entrySet()) {
            String key = e.getKey();
            ParamDef def = method.globalDef(key);
            ParamDef modelDef = method.modelDef(key);
            if (def == null && (modelDef == null || modelDef.kind() == ParamDef.Kind.TENSORS)) {
                MergeMethods.checkParameter(method, key);
            }
            global.put(key, convert(def != null ? def : modelDef, e.getValue(), "parameters." + key));
        }
        for (ParamDef def : method.globalDefs()) {
            if (!global.containsKey(def.name())) {
                if (def.required()) {
                    throw new MergeException("parameters." + def.name() + ": required by " + method.name());
                }
                if (def.defaultValue() != null) {
                    global.put(def.name(), def.defaultValue());
                }
            }
        }
    }

    private void resolveModels() {
        for (int i = 0; i < spec.models().size(); i++) {
            Map<String, Object> resolved = new HashMap<>();
            for (Map.Entry<String, Object> e : spec.modelParameters().get(i).entrySet()) {
                ParamDef def = method.modelDef(e.getKey());
                if (def == null) {
                    MergeMethods.checkModelParameter(method, where(i), e.getKey());
                }
                resolved.put(e.getKey(), convert(def, e.getValue(), where(i, e.getKey())));
            }
            for (ParamDef def : method.modelDefs()) {
                if (resolved.containsKey(def.name())) {
                    continue;
                }
                Object fallback = def.kind() == ParamDef.Kind.TENSORS ? null : global.get(def.name());
                if (fallback == null) {
                    fallback = def.defaultValue();
                }
                if (fallback == null && def.required()) {
                    throw new MergeException(where(i, def.name()) + ": required by " + method.name());
                }
                if (fallback != null) {
                    resolved.put(def.name(), fallback);
                }
            }
            perModel.add(resolved);
        }
    }

    private static Object convert(ParamDef def, Object value, String where) {
        if (value == null) {
            throw new MergeException(where + ": has no value");
        }
        return switch (def.kind()) {
            case NUMBER -> {
                if (!(value instanceof Number n) || !Double.isFinite(n.doubleValue())) {
                    throw new MergeException(where + ": expected a finite number, got " + describe(value));
                }
                yield n.doubleValue();
            }
            case INTEGER -> {
                if (!(value instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
                        || Double.isInfinite(n.doubleValue())) {
                    throw new MergeException(where + ": expected an integer, got " + describe(value));
                }
                yield n.longValue();
            }
            case BOOLEAN -> {
                if (!(value instanceof Boolean bool)) {
                    throw new MergeException(where + ": expected true or false, got " + describe(value));
                }
                yield bool;
            }
            case TENSORS -> {
                if (!(value instanceof TensorSource source)) {
                    throw new MergeException(where + ": expected a set of tensors, got " + describe(value));
                }
                yield source;
            }
        };
    }

    private static String describe(Object value) {
        if (value instanceof String s) {
            return "\"" + s + "\"";
        }
        if (value instanceof List<?>) {
            return "a list";
        }
        if (value instanceof Map<?, ?>) {
            return "a map";
        }
        return String.valueOf(value);
    }

    String where(int model, String key) {
        return where(model) + ": parameters." + key;
    }

    private String where(int model) {
        return "models[" + model + "] (" + spec.models().get(model) + ")";
    }

    int models() {
        return spec.models().size();
    }

    String modelName(int i) {
        return spec.models().get(i);
    }

    boolean hasBase() {
        return spec.hasBase();
    }

    boolean has(String key) {
        return global.containsKey(key);
    }

    double number(String key) {
        return (Double) global.get(key);
    }

    long integer(String key) {
        return (Long) global.get(key);
    }

    boolean bool(String key) {
        return (Boolean) global.get(key);
    }

    double modelNumber(int model, String key) {
        return (Double) perModel.get(model).get(key);
    }

    /** A model's number, or null when neither the model, the top level nor a default gives one. */
    Double optionalModelNumber(int model, String key) {
        return (Double) perModel.get(model).get(key);
    }

    /** The weights of all models; a convenience for the weighted methods. */
    double[] modelNumbers(String key) {
        double[] out = new double[models()];
        for (int i = 0; i < out.length; i++) {
            out[i] = modelNumber(i, key);
        }
        return out;
    }

    /** A {@link MergeException} for a top-level parameter that breaks {@code rule}. */
    MergeException invalid(String key, String rule) {
        return new MergeException("parameters." + key + ": " + rule);
    }

    /** A {@link MergeException} for a model's parameter that breaks {@code rule}. */
    MergeException invalid(int model, String key, String rule) {
        return new MergeException(where(model, key) + ": " + rule);
    }
}
