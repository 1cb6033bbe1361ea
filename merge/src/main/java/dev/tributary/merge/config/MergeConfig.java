package dev.tributary.merge.config;

import dev.tributary.merge.MergeException;
import dev.tributary.merge.MergeMethod;
import dev.tributary.merge.MergeMethods;
import dev.tributary.tensor.DType;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A merge described in mergekit's YAML:
 *
 * <pre>
 * models:
 *   - model: a.safetensors          # a file, a folder with model.safetensors, or a sharded folder
 *     parameters: {weight: 0.7, density: 0.5}
 *   - model: b/
 *     parameters: {weight: 0.3, density: 0.5}
 * merge_method: ties
 * base_model: base/
 * parameters: {normalize: true, lambda: 1.0}
 * dtype: bfloat16                   # float32, float16, bfloat16; default: the models' own
 * out_shard_size: 5B                # bytes per output shard: 5000000000, 500M, 2GB, 1GiB…
 * </pre>
 *
 * Relative paths are resolved against the config file's folder. A {@code models} entry that names the
 * base model is the base itself, not one more model. Parameter names and values are checked against the
 * method when the merge is prepared ({@link MergeRunner}); the structure of the file is checked here.
 *
 * @param file         the config file
 * @param method       {@code merge_method}
 * @param models       the models to merge, not counting the base
 * @param baseModel    {@code base_model}, or null
 * @param parameters   top-level {@code parameters}
 * @param dtype        {@code dtype}, or null for the models' own
 * @param outShardSize {@code out_shard_size} in bytes
 */
public record MergeConfig(Path file, String method, List<ModelEntry> models, Path baseModel,
                          Map<String, Object> parameters, DType dtype, long outShardSize) {

    /** mergekit's default shard size: 5 billion bytes. */
    public static final long DEFAULT_SHARD_SIZE = 5_000_000_000L;

    private static final Set<String> KEYS = Set.of("models", "merge_method", "base_model", "parameters", "dtype",
            "out_shard_size");

    /**
     * One entry of {@code models}.
     *
     * @param path       the checkpoint, resolved
     * @param parameters its parameters; values of tensor-valued parameters ({@code fisher}) are resolved {@link Path}s
     */
    public record ModelEntry(Path path, Map<String, Object> parameters) {
        public ModelEntry {
            parameters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        }
    }

    public MergeConfig {
        models = List.copyOf(models);
        parameters = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /**
     * Reads and checks a config file.
     *
     * @throws MergeException naming the file and key of the first structural problem, or an unknown method
     */
    public static MergeConfig load(Path file) {
        String where = file.getFileName().toString();
        Object root;
        try (Reader r = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (IOException e) {
            throw new MergeException(file + ": cannot read: " + e.getMessage(), e);
        } catch (YAMLException e) {
            throw new MergeException(where + ": not valid YAML: " + e.getMessage().replaceAll("\\s+", " ").trim(), e);
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw new MergeException(where + ": expected a mapping with models and merge_method at the top");
        }
        Path dir = file.toAbsolutePath().getParent();
        for (Object key : top.keySet()) {
            if (!KEYS.contains(String.valueOf(key))) {
                throw new MergeException(where + ": key " + key + ": unknown (known: base_model, dtype, merge_method, "
                        + "models, out_shard_size, parameters)");
            }
        }
        String methodName = string(top.get("merge_method"), where + ": merge_method");
        MergeMethod method = MergeMethods.byName(methodName);
        Path base = top.get("base_model") == null ? null
                : resolve(dir, string(top.get("base_model"), where + ": base_model"));
        List<ModelEntry> models = models(top.get("models"), dir, where, base, method);
        Map<String, Object> params = map(top.get("parameters"), where + ": parameters");
        DType dtype = null;
        if (top.get("dtype") != null) {
            try {
                dtype = DType.fromUserName(string(top.get("dtype"), where + ": dtype"));
            } catch (IllegalArgumentException e) {
                throw new MergeException(where + ": dtype: " + e.getMessage());
            }
            if (!dtype.isFloatingPoint()) {
                throw new MergeException(where + ": dtype: " + dtype + " is not a floating-point type");
            }
        }
        long shard = top.get("out_shard_size") == null ? DEFAULT_SHARD_SIZE
                : parseSize(top.get("out_shard_size"), where + ": out_shard_size");
        return new MergeConfig(file, methodName, models, base, params, dtype, shard);
    }

    private static List<ModelEntry> models(Object value, Path dir, String where, Path base, MergeMethod method) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new MergeException(where + ": models: expected a non-empty list of {model: path, parameters: {...}}");
        }
        List<ModelEntry> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = where + ": models[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> entry)) {
                throw new MergeException(at + ": expected {model: path, parameters: {...}}");
            }
            for (Object key : entry.keySet()) {
                if (!"model".equals(key) && !"parameters".equals(key)) {
                    throw new MergeException(at + ": key " + key + ": unknown (known: model, parameters)");
                }
            }
            Path path = resolve(dir, string(entry.get("model"), at + ".model"));
            Map<String, Object> params = map(entry.get("parameters"), at + ".parameters");
            if (base != null && sameFile(path, base)) {
                if (!params.isEmpty()) {
                    throw new MergeException(at + " (" + path.getFileName() + "): is the base_model, which takes no "
                            + "parameters; got " + params.keySet());
                }
                continue;
            }
            for (String key : method.tensorParameters()) {
                if (params.containsKey(key)) {
                    params.put(key, resolve(dir, string(params.get(key), at + ".parameters." + key)));
                }
            }
            out.add(new ModelEntry(path, params));
        }
        return out;
    }

    private static boolean sameFile(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    private static Path resolve(Path dir, String p) {
        Path path = Path.of(p);
        return path.isAbsolute() ? path.normalize() : dir.resolve(path).normalize();
    }

    private static String string(Object value, String where) {
        if (!(value instanceof String s) || s.isBlank()) {
            throw new MergeException(where + ": expected a non-empty string, got " + value);
        }
        return s;
    }

    private static Map<String, Object> map(Object value, String where) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (value == null) {
            return out;
        }
        if (!(value instanceof Map<?, ?> m)) {
            throw new MergeException(where + ": expected a mapping of parameter names to values, got " + value);
        }
        m.forEach((k, v) -> out.put(String.valueOf(k), v));
        return out;
    }

    /**
     * Parses a size in bytes as mergekit writes it: a plain integer, or a number with K, M, B/G (powers of
     * 1000), KB, MB, GB (the same) or KiB, MiB, GiB (powers of 1024).
     */
    static long parseSize(Object value, String where) {
        if (value instanceof Number n) {
            return positive(n.doubleValue(), where, value);
        }
        String s = String.valueOf(value).trim().toUpperCase(Locale.ROOT).replace("_", "");
        String[][] units = {{"KIB", "1024"}, {"MIB", "1048576"}, {"GIB", "1073741824"}, {"KB", "1e3"}, {"MB", "1e6"},
            {"GB", "1e9"}, {"K", "1e3"}, {"M", "1e6"}, {"B", "1e9"}, {"G", "1e9"}};
        double factor = 1;
        for (String[] u : units) {
            if (s.endsWith(u[0])) {
                factor = Double.parseDouble(u[1]);
                s = s.substring(0, s.length() - u[0].length()).trim();
                break;
            }
        }
        try {
            return positive(Double.parseDouble(s) * factor, where, value);
        } catch (NumberFormatException e) {
            throw new MergeException(where + ": \"" + value + "\" is not a size (e.g. 5B, 500M, 2GiB, 1000000)");
        }
    }

    private static long positive(double bytes, String where, Object value) {
        if (!(bytes >= 1) || bytes > Long.MAX_VALUE) {
            throw new MergeException(where + ": " + value + " is not a positive size in bytes");
        }
        return (long) bytes;
    }
}
