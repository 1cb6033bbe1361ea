package dev.tributary.coordinator;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/** A YAML settings file read safely (no custom types): its top-level map, shared by every service's config. */
public final class YamlSettings {
    private YamlSettings() {}

    /**
     * The top-level map of {@code file}, keys as strings; empty for an empty file.
     *
     * @throws IllegalArgumentException naming the file when it is not YAML or not a map
     */
    public static Map<String, Object> read(Path file) throws IOException {
        Object root;
        try (Reader r = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: " + e.getMessage().lines().findFirst().orElse(""));
        }
        Map<String, Object> values = new LinkedHashMap<>();
        if (root == null) {
            return values;
        }
        if (!(root instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException(file + ": the top level must be a map of settings");
        }
        m.forEach((k, v) -> values.put(String.valueOf(k), v));
        return values;
    }
}
