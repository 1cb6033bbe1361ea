package dev.tributary.merge.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tributary.merge.MergeException;
import dev.tributary.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The files besides the weights that make the merged folder a model Hugging Face transformers loads,
 * as mergekit writes them: {@code config.json} from the base model (or the first model) with its dtype
 * set to the written dtype and, for slices, its layer count (and {@code layer_types}) set to the
 * output's; {@code generation_config.json}; the tokenizer files of {@code tokenizer_source} (or of the
 * base or first model when it has them); and {@code mergekit_config.yml}, the config as given.
 *
 * <p>A model given as a {@code .safetensors} file has none of these: then only the config is recorded.
 * The tokenizer is copied as it is; embeddings are not permuted to another vocabulary (mergekit's
 * {@code union} is refused when the config is read).
 */
final class ModelFiles {
    static final String CONFIG = "config.json";
    static final String GENERATION = "generation_config.json";
    static final String RECORD = "mergekit_config.yml";
    static final List<String> TOKENIZER = List.of("tokenizer_config.json", "special_tokens_map.json",
            "tokenizer.json", "tokenizer.model", "added_tokens.json", "vocab.json", "merges.txt", "vocab.txt",
            "chat_template.jinja", "chat_template.json");
    private static final List<String> LAYER_KEYS = List.of("num_hidden_layers", "n_layer", "num_layers", "n_layers");

    /** Made on first use: building an ObjectMapper loads hundreds of classes, and most merges never need one. */
    private static final class Json {
        static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    }

    private ModelFiles() {}

    /** The base model, or else the first model: where config.json comes from. */
    static Path donor(MergeConfig c) {
        if (c.baseModel() != null) {
            return c.baseModel();
        }
        return c.slices().isEmpty() ? c.models().getFirst().path() : c.slices().getFirst().sources().getFirst().path();
    }

    /** The folder of a model given as a folder or as a file with the usual name in one; else null. */
    static Path folder(Path model) {
        if (Files.isDirectory(model)) {
            return model;
        }
        String name = model.getFileName().toString();
        return name.equals("model.safetensors") || name.endsWith(".index.json") ? model.toAbsolutePath().getParent() : null;
    }

    /** Checks what can be checked before merging: the tokenizer source is a folder with tokenizer files. */
    static void check(MergeConfig c) {
        Path src = c.tokenizerSource();
        if (src == null) {
            return;
        }
        if (!Files.exists(src)) {
            throw new MergeException("tokenizer_source: " + src + ": no such folder");
        }
        if (!Files.isDirectory(src)) {
            throw new MergeException("tokenizer_source: " + src + " is a file; expected a model folder with tokenizer "
                    + "files");
        }
        if (TOKENIZER.stream().noneMatch(f -> Files.isRegularFile(src.resolve(f)))) {
            throw new MergeException("tokenizer_source: " + src + " has no tokenizer files (" + String.join(", ", TOKENIZER)
                    + ")");
        }
    }

    /** Writes the files next to the merged weights in {@code outDir}. */
    static void write(MergeConfig c, MergePlanner.Plan plan, Path outDir) {
        Path donor = folder(donor(c));
        try {
            if (donor != null && Files.isRegularFile(donor.resolve(CONFIG))) {
                ObjectNode config = read(donor.resolve(CONFIG));
                setDtype(config, c.writtenDtype());
                if (!c.slices().isEmpty()) {
                    setLayers(config, plan.layers());
                }
                writeAtomically(outDir.resolve(CONFIG), Json.MAPPER.writeValueAsString(config) + "\n");
            }
            if (donor != null) {
                copyIfPresent(donor.resolve(GENERATION), outDir);
            }
            Path tokenizer = c.tokenizerSource() != null ? c.tokenizerSource() : donor;
            if (tokenizer != null) {
                for (String f : TOKENIZER) {
                    copyIfPresent(tokenizer.resolve(f), outDir);
                }
            }
            writeAtomically(outDir.resolve(RECORD), Files.readString(c.file()));
        } catch (IOException e) {
            throw new UncheckedIOException(outDir + ": cannot write the model's files: " + e.getMessage(), e);
        }
    }

    private static ObjectNode read(Path file) {
        try {
            JsonNode node = Json.MAPPER.readTree(file.toFile());
            if (!(node instanceof ObjectNode o)) {
                throw new MergeException(file + ": expected a JSON object");
            }
            return o;
        } catch (JsonProcessingException e) {
            throw new MergeException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** transformers 4 writes {@code torch_dtype}, 5 writes {@code dtype}; both are set where present. */
    private static void setDtype(ObjectNode config, DType dtype) {
        if (dtype == null) {
            return;
        }
        String name = switch (dtype) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F64 -> "float64";
            default -> dtype.safetensorsName().toLowerCase(java.util.Locale.ROOT);
        };
        if (config.has("torch_dtype") || !config.has("dtype")) {
            config.put("torch_dtype", name);
        }
        if (config.has("dtype")) {
            config.put("dtype", name);
        }
    }

    private static void setLayers(ObjectNode config, List<MergePlanner.Origin> layers) {
        for (String key : LAYER_KEYS) {
            if (config.has(key)) {
                config.put(key, layers.size());
            }
        }
        if (config.get("layer_types") instanceof ArrayNode) {
            Map<Path, JsonNode> types = new HashMap<>();
            ArrayNode out = config.putArray("layer_types");
            for (MergePlanner.Origin o : layers) {
                JsonNode list = types.computeIfAbsent(o.model(), ModelFiles::layerTypes);
                if (list == null || o.layer() >= list.size()) {
                    config.remove("layer_types");
                    return;
                }
                out.add(list.get(o.layer()));
            }
        }
    }

    private static JsonNode layerTypes(Path model) {
        Path dir = folder(model);
        if (dir == null || !Files.isRegularFile(dir.resolve(CONFIG))) {
            return null;
        }
        JsonNode types = read(dir.resolve(CONFIG)).get("layer_types");
        return types instanceof ArrayNode ? types : null;
    }

    private static void copyIfPresent(Path file, Path outDir) throws IOException {
        if (Files.isRegularFile(file)) {
            Path tmp = outDir.resolve("." + file.getFileName() + ".tmp");
            Files.copy(file, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, outDir.resolve(file.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private static void writeAtomically(Path target, String text) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
