package dev.tributary.store;

import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;

/**
 * Safetensors images held in memory, as the simulator sizes and builds the deltas it sends. The format
 * itself lives in the tensor module: this encodes through {@link Safetensors#encode}, and images are
 * read back, strictly and zero-copy, with {@link ModelImage#tensors}.
 */
public final class SafetensorsBytes {
    private SafetensorsBytes() {}

    /** The size of the image {@link #encode} makes. */
    public static long encodedSize(TensorSource src, Map<String, String> metadata) {
        return Safetensors.encodedSize(src, metadata);
    }

    /** Copies every tensor of {@code src}, in its order, into one safetensors image allocated in {@code arena}. */
    public static MemorySegment encode(TensorSource src, Map<String, String> metadata, Arena arena) {
        return Safetensors.encode(src, metadata, arena);
    }
}
