package dev.tributary.tensor;

import java.lang.foreign.Arena;
import java.nio.file.Path;

/** Whole-checkpoint conveniences over {@link SafetensorsWriter} and {@link Checkpoint}. */
public final class Safetensors {
    private Safetensors() {}

    /**
     * Writes every tensor of {@code src}, in its order, with its metadata, to the safetensors file
     * {@code target} (atomically: a temporary file, then a rename). Streams one tensor at a time, so a
     * memory-mapped source is never resident as a whole. {@code target} may be the file {@code src} reads.
     */
    public static void write(Path target, TensorSource src) {
        try (SafetensorsWriter w = SafetensorsWriter.create(target, src.infos(), src.metadata())) {
            for (String name : src.names()) {
                w.write(name, src.tensor(name));
            }
        }
    }

    /**
     * Reads a whole checkpoint (a file or a folder, see {@link Checkpoint#open}) into memory: every
     * tensor copied into automatically managed off-heap memory, metadata included. For tests and small
     * models; large ones are better streamed from {@link Checkpoint#open}.
     */
    public static TensorMap readAll(Path path) {
        TensorMap out = new TensorMap();
        try (TensorSource src = Checkpoint.open(path)) {
            Arena arena = Arena.ofAuto();
            for (String name : src.names()) {
                out.put(name, src.tensor(name).copy(arena));
            }
            src.metadata().forEach(out::putMetadata);
        }
        return out;
    }
}
