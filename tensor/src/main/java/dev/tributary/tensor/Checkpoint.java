package dev.tributary.tensor;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Opens a checkpoint wherever it lies: a {@code .safetensors} file, a folder holding
 * {@code model.safetensors}, or a sharded folder with {@code model.safetensors.index.json} (as written by
 * Hugging Face transformers: {@code {"metadata": {...}, "weight_map": {tensor: shard file}}}). The index,
 * when present, wins over a single file in the same folder.
 */
public final class Checkpoint {
    private Checkpoint() {}

    /** Name of the single-file checkpoint in a folder. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** Name of the index of a sharded checkpoint in a folder. */
    public static final String INDEX_FILE = "model.safetensors.index.json";

    /**
     * Opens {@code fileOrDir} and validates it completely (for a sharded checkpoint: the index, every
     * shard's header, and that shards and index agree).
     *
     * @throws InvalidCheckpointException naming the file and the broken rule
     * @throws java.io.UncheckedIOException when a file cannot be read
     */
    public static TensorSource open(Path fileOrDir) {
        if (Files.isDirectory(fileOrDir)) {
            Path index = fileOrDir.resolve(INDEX_FILE);
            if (Files.isRegularFile(index)) {
                return ShardedCheckpoint.open(index);
            }
            Path single = fileOrDir.resolve(SINGLE_FILE);
            if (Files.isRegularFile(single)) {
                return SafetensorsFile.open(single);
            }
            throw new InvalidCheckpointException(fileOrDir.toString(),
                    "folder holds neither " + SINGLE_FILE + " nor " + INDEX_FILE);
        }
        if (!Files.exists(fileOrDir)) {
            throw new InvalidCheckpointException(fileOrDir.toString(), "no such file or folder");
        }
        if (fileOrDir.getFileName().toString().endsWith(".index.json")) {
            return ShardedCheckpoint.open(fileOrDir);
        }
        return SafetensorsFile.open(fileOrDir);
    }
}
