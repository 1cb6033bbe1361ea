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
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A merge described in mergekit's YAML, either as whole models:
 *
 * <pre>
 * models:
 *   - model: base/                   # the base may be listed; its parameters are then not used
 *   - model: a.safetensors           # a file, a folder with model.safetensors, or a sharded folder
 *     parameters:
 *       weight: [0.2, 1.0]           # a gradient over the layers
 *       density: [{filter: self_attn, value: 0.5}, {value: 0.7}]
 * merge_method: ties
 * base_model: base/
 * parameters: {normalize: true, lambda: 1.0}
 * dtype: float32                     # float32, float16, bfloat16; default: the models' own
 * out_dtype: bfloat16                # what is written; default: dtype
 * tokenizer_source: base             # base or a model folder; its tokenizer files are copied
 * out_shard_size: 5B                 # bytes per output shard: 5000000000, 500M, 2GB, 1GiB…
 * </pre>
 *
 * or as slices of layers (frankenmerges, or merges that differ by depth):
 *
 * <pre>
 * slices:
 *   - sources:
 *       - model: a/
 *         layer_range: [0, 16]       # layers 0..15
 *   - sources:
 *       - model: b/
 *         layer_range: [8, 24]
 * merge_method: passthrough
 * </pre>
 *
 * Relative paths are resolved against the config file's folder. Parameter names are checked against the
 * method here (a misspelled one is an error, even inside a filter that matches nothing); their values
 * when the merge is planned ({@link MergeRunner}).
 *
 * @param file            the config file
 * @param method          {@code merge_method}
 * @param models          the models to merge ({@code models:} form): for a method with a base, not
 *                        counting it; for one without, the base is an ordinary model when listed
 * @param slices          the output's slices ({@code slices:} form), or empty
 * @param baseModel       {@code base_model}, or null
 * @param parameters      top-level {@code parameters}
 * @param dtype           {@code dtype}, or null for the models' own
 * @param outDtype        {@code out_dtype}, or null for {@code dtype}
 * @param outShardSize    {@code out_shard_size} in bytes
 * @param tokenizerSource the model folder whose tokenizer files are copied ({@code tokenizer_source}),
 *                        or null to copy them from the base or first model when it has any
 */
public record MergeConfig(Path file, String method, List<ModelEntry> models, List<Slice> slices, Path baseModel,
                          Map<String, Setting> parameters, DType dtype, DType outDtype, long outShardSize,
                          Path tokenizerSource) {

    /** mergekit's default shard size: 5 billion bytes. */
    public static final long DEFAULT_SHARD_SIZE = 5_000_000_000L;

    private static final List<String> KEYS = List.of("base_model", "dtype", "merge_method", "models", "out_dtype",
            "out_shard_size", "parameters", "slices", "tokenizer_source");
    private static final List<String> UNSUPPORTED = List.of("modules", "tokenizer", "chat_template");

    /**
     * One entry of {@code models}.
     *
     * @param path       the checkpoint, resolved
     * @param parameters its parameters; tensor-valued ones ({@code fisher}) hold a resolved {@link Path}
     */
    public record ModelEntry(Path path, Map<String, Setting> parameters) {
        public ModelEntry {
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        }
    }

    /**
     * One source of a slice: layers {@code from} (inclusive) to {@code to} (exclusive) of a model.
     *
     * @param path       the checkpoint, resolved
     * @param parameters its parameters for these layers
     */
    public record Source(Path path, int from, int to, Map<String, Setting> parameters) {
        public Source {
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        }

        int layers() {
            return to - from;
        }
    }

    /**
     * One entry of {@code slices}: as many output layers as each source covers.
     *
     * @param sources    the models merged into these layers, the base among them for methods with one
     * @param baseModel  the slice's own {@code base_model}, or null for the top-level one
     * @param parameters the slice's {@code parameters}, between the sources' and the top level's
     */
    public record Slice(List<Source> sources, Path baseModel, Map<String, Setting> parameters) {
        public Slice {
            sources = List.copyOf(sources);
            parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        }
    }

    public MergeConfig {
        models = List.copyOf(models);
        slices = List.copyOf(slices);
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /** The same merge written in shards of at most {@code bytes}. */
    public MergeConfig withOutShardSize(long bytes) {
        return new MergeConfig(file, method, models, slices, baseModel, parameters, dtype, outDtype, bytes,
                tokenizerSource);
    }

    /** The dtype the merged floating-point tensors are written in, or null for the inputs' own. */
    public DType writtenDtype() {
        return outDtype != null ? outDtype : dtype;
    }

    /**
     * Reads and checks a config file.
     *
     * @throws MergeException naming the file and key of the first structural problem, or an unknown method
     */
    public static MergeConfig load(Path file) {
        String where = file.getFileName().toString();
        if (Files.isDirectory(file)) {
            throw new MergeException(file + ": is a folder; expected a YAML merge config file");
        }
        Object root;
        try (Reader r = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (IOException e) {
            throw new MergeException(file + ": cannot read: " + e.getMessage(), e);
        } catch (YAMLException e) {
            throw new MergeException(where + ": not valid YAML: " + e.getMessage().replaceAll("\\s+", " ").trim(), e);
        }
        if (!(root instanceof Map<?, ?> top)) {
            throw new MergeException(where + ": expected a mapping with models (or slices) and merge_method at the top");
        }
        Path dir = file.toAbsolutePath().getParent();
        for (Object key : top.keySet()) {
            if (UNSUPPORTED.contains(String.valueOf(key))) {
                throw new MergeException(where + ": key " + key + ": not supported (supported: "
                        + String.join(", ", KEYS) + ")");
            }
            if (!KEYS.contains(String.valueOf(key))) {
                throw new MergeException(where + ": key " + key + ": unknown (known: " + String.join(", ", KEYS) + ")");
            }
        }
        String methodName = string(top.get("merge_method"), where + ": merge_method");
        MergeMethod method = MergeMethods.byName(methodName);
        Path base = top.get("base_model") == null ? null
                : resolve(dir, string(top.get("base_model"), where + ": base_model"));
        boolean hasModels = top.get("models") != null;
        boolean hasSlices = top.get("slices") != null;
        if (hasModels == hasSlices) {
            throw new MergeException(where + ": give exactly one of models and slices" + (hasModels ? ", not both" : ""));
        }
        Names names = new Names(method, dir);
        List<ModelEntry> models = hasModels ? models(top.get("models"), dir, where, base, names) : List.of();
        List<Slice> slices = hasSlices ? slices(top.get("slices"), dir, where, names) : List.of();
        Map<String, Setting> params = settings(top.get("parameters"), where + ": parameters");
        for (String key : params.keySet()) {
            MergeMethods.checkParameter(method, key);
        }
        DType dtype = dtype(top.get("dtype"), where + ": dtype");
        DType outDtype = dtype(top.get("out_dtype"), where + ": out_dtype");
        long shard = top.get("out_shard_size") == null ? DEFAULT_SHARD_SIZE
                : parseSize(top.get("out_shard_size"), where + ": out_shard_size");
        Path tokenizer = tokenizerSource(top.get("tokenizer_source"), dir, where, base);
        return new MergeConfig(file, methodName, models, slices, base, params, dtype, outDtype, shard, tokenizer);
    }

    /** Checks parameter names against the method and resolves tensor-valued ones to paths. */
    private record Names(MergeMethod method, Path dir) {
        Map<String, Setting> check(Map<String, Setting> params, String who, String at) {
            Map<String, Setting> out = new LinkedHashMap<>();
            for (Map.Entry<String, Setting> e : params.entrySet()) {
                String key = e.getKey();
                MergeMethods.checkModelParameter(method, who, key);
                Setting s = e.getValue();
                if (method.tensorParameters().contains(key)) {
                    if (!(s instanceof Setting.Scalar(Object v))) {
                        throw new MergeException(at + "." + key + ": expected a path to tensors, not a list or filters");
                    }
                    s = new Setting.Scalar(resolve(dir, string(v, at + "." + key)));
                }
                out.put(key, s);
            }
            return out;
        }

        String display(Path p) {
            try {
                return dir.relativize(p.toAbsolutePath()).toString();
            } catch (IllegalArgumentException e) {
                return p.toString();
            }
        }
    }

    private static List<ModelEntry> models(Object value, Path dir, String where, Path base, Names names) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new MergeException(where + ": models: expected a non-empty list of {model: path, parameters: {...}}");
        }
        MergeMethod method = names.method();
        List<ModelEntry> out = new ArrayList<>();
        boolean baseListed = false;
        for (int i = 0; i < list.size(); i++) {
            String at = where + ": models[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> entry)) {
                throw new MergeException(at + ": expected {model: path, parameters: {...}}");
            }
            keys(entry, at, List.of("model", "parameters"));
            Path path = resolve(dir, string(entry.get("model"), at + ".model"));
            Map<String, Setting> params = names.check(settings(entry.get("parameters"), at + ".parameters"),
                    "models[" + i + "] (" + names.display(path) + ")", at + ".parameters");
            if (base != null && sameFile(path, base)) {
                baseListed = true;
                if (method.requiresBase()) {
                    continue;
                }
            }
            out.add(new ModelEntry(path, params));
        }
        if (base != null && !method.requiresBase() && !baseListed) {
            throw new MergeException(where + ": base_model: " + method.name() + " takes no base model; list "
                    + names.display(base) + " under models (with its parameters) to merge it as one more model");
        }
        return out;
    }

    private static List<Slice> slices(Object value, Path dir, String where, Names names) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw new MergeException(where + ": slices: expected a non-empty list of {sources: [...]}");
        }
        List<Slice> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = where + ": slices[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> entry)) {
                throw new MergeException(at + ": expected {sources: [...], parameters: {...}}");
            }
            keys(entry, at, List.of("sources", "base_model", "parameters"));
            if (!(entry.get("sources") instanceof List<?> srcs) || srcs.isEmpty()) {
                throw new MergeException(at + ".sources: expected a non-empty list of {model: path, layer_range: "
                        + "[first, end]}");
            }
            List<Source> sources = new ArrayList<>();
            for (int j = 0; j < srcs.size(); j++) {
                sources.add(source(srcs.get(j), dir, at + ".sources[" + j + "]", names, i, j));
            }
            for (Source s : sources) {
                if (s.layers() != sources.getFirst().layers()) {
                    throw new MergeException(at + ": sources cover " + sources.getFirst().layers() + " and " + s.layers()
                            + " layers; every source of a slice must cover the same number of layers");
                }
            }
            Path base = entry.get("base_model") == null ? null
                    : resolve(dir, string(entry.get("base_model"), at + ".base_model"));
            Map<String, Setting> params = settings(entry.get("parameters"), at + ".parameters");
            for (String key : params.keySet()) {
                MergeMethods.checkParameter(names.method(), key);
            }
            out.add(new Slice(sources, base, params));
        }
        return out;
    }

    private static Source source(Object value, Path dir, String at, Names names, int slice, int index) {
        if (!(value instanceof Map<?, ?> entry)) {
            throw new MergeException(at + ": expected {model: path, layer_range: [first, end], parameters: {...}}");
        }
        keys(entry, at, List.of("model", "layer_range", "parameters"));
        Path path = resolve(dir, string(entry.get("model"), at + ".model"));
        Object range = entry.get("layer_range");
        if (!(range instanceof List<?> r) || r.size() != 2 || !(r.get(0) instanceof Integer from)
                || !(r.get(1) instanceof Integer to)) {
            throw new MergeException(at + ".layer_range: expected two integers [first, end], got " + range);
        }
        if (from < 0 || to <= from) {
            throw new MergeException(at + ".layer_range: " + range + " is empty or negative; it needs 0 <= first < end");
        }
        Map<String, Setting> params = names.check(settings(entry.get("parameters"), at + ".parameters"),
                "slices[" + slice + "].sources[" + index + "] (" + names.display(path) + ")", at + ".parameters");
        return new Source(path, from, to, params);
    }

    private static void keys(Map<?, ?> entry, String at, List<String> known) {
        for (Object key : entry.keySet()) {
            if (!known.contains(String.valueOf(key))) {
                throw new MergeException(at + ": key " + key + ": unknown (known: " + String.join(", ", known) + ")");
            }
        }
    }

    private static DType dtype(Object value, String where) {
        if (value == null) {
            return null;
        }
        DType dtype;
        try {
            dtype = DType.fromUserName(string(value, where));
        } catch (IllegalArgumentException e) {
            throw new MergeException(where + ": " + e.getMessage());
        }
        if (!dtype.isFloatingPoint()) {
            throw new MergeException(where + ": " + dtype + " is not a floating-point type");
        }
        return dtype;
    }

    private static Path tokenizerSource(Object value, Path dir, String where, Path base) {
        if (value == null) {
            return null;
        }
        String s = string(value, where + ": tokenizer_source");
        if (s.equals("union")) {
            throw new MergeException(where + ": tokenizer_source: union is not supported (use base or a model folder, "
                    + "whose tokenizer is copied)");
        }
        if (s.equals("base")) {
            if (base == null) {
                throw new MergeException(where + ": tokenizer_source: base needs a base_model");
            }
            return base;
        }
        return resolve(dir, s);
    }

    private static boolean sameFile(Path a, Path b) {
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    static Path resolve(Path dir, String p) {
        Path path = Path.of(p);
        return path.isAbsolute() ? path.normalize() : dir.resolve(path).normalize();
    }

    private static String string(Object value, String where) {
        if (!(value instanceof String s) || s.isBlank()) {
            throw new MergeException(where + ": expected a non-empty string, got " + value);
        }
        return s;
    }

    private static Map<String, Setting> settings(Object value, String where) {
        Map<String, Setting> out = new LinkedHashMap<>();
        if (value == null) {
            return out;
        }
        if (!(value instanceof Map<?, ?> m)) {
            throw new MergeException(where + ": expected a mapping of parameter names to values, got " + value);
        }
        m.forEach((k, v) -> out.put(String.valueOf(k), Setting.parse(v, where + "." + k)));
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
