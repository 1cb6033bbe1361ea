package dev.tributary.merge.lora;

import dev.tributary.merge.MergeException;
import dev.tributary.tensor.TensorSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a PEFT adapter folder ({@code adapter_config.json} + {@code adapter_model.safetensors}) holds, as
 * {@link LoraMerge} reads it: its config, its modules with their rank, alpha and scale, and the base tensors
 * it replaces whole.
 *
 * @param config   the parsed config
 * @param modules  the adapted modules, in file order
 * @param replaced the base tensors the adapter holds whole (modules_to_save, embeddings saved by
 *                 save_embedding_layers), each with its adapter key
 */
public record AdapterInfo(LoraConfig config, List<Module> modules, List<Replaced> replaced) {
    public AdapterInfo {
        modules = List.copyOf(modules);
        replaced = List.copyOf(replaced);
    }

    /**
     * One adapted module.
     *
     * @param name      the module's name in the base model
     * @param embedding whether it is an embedding (lora_embedding_A/B)
     * @param dora      whether it has a DoRA magnitude vector
     * @param rank      its rank (rank_pattern or r)
     * @param alpha     its alpha (alpha_pattern or lora_alpha)
     * @param scale     the scale s its ΔW = B·A is multiplied by
     */
    public record Module(String name, boolean embedding, boolean dora, int rank, double alpha, double scale) {}

    /**
     * A base tensor the adapter replaces.
     *
     * @param tensor the base tensor's name
     * @param key    the adapter key holding its new value
     */
    public record Replaced(String tensor, String key) {}

    /** Whether {@code dir} is a folder with an adapter config and a safetensors adapter. */
    public static boolean isAdapterFolder(Path dir) {
        return Files.isDirectory(dir) && Files.isRegularFile(dir.resolve(LoraMerge.CONFIG_FILE))
                && Files.isRegularFile(dir.resolve(LoraMerge.ADAPTER_FILE));
    }

    /**
     * Reads the adapter folder {@code dir}.
     *
     * @throws MergeException naming the file and key when the config or the keys are not a PEFT LoRA adapter
     */
    public static AdapterInfo read(Path dir) {
        LoraConfig config = LoraConfig.read(dir.resolve(LoraMerge.CONFIG_FILE));
        Path file = dir.resolve(LoraMerge.ADAPTER_FILE);
        if (!Files.isRegularFile(file)) {
            throw new MergeException(file + ": missing (only safetensors adapters are read)");
        }
        try (TensorSource src = LoraMerge.open(file, "adapter")) {
            AdapterModules.Contents contents = AdapterModules.parse(src.names(), LoraMerge.ADAPTER_FILE);
            List<Module> modules = contents.modules().stream().map(m -> new Module(m.name(), m.embedding(),
                    m.magnitudeKey() != null, config.rank(m.name()), config.alpha(m.name()),
                    config.scale(m.name()))).toList();
            List<Replaced> replaced = contents.replacements().stream()
                    .map(r -> new Replaced(r.tensor(), r.key())).toList();
            return new AdapterInfo(config, modules, replaced);
        }
    }
}
