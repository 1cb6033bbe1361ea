package dev.tributary.tensor;

import java.util.List;
import java.util.Map;

/**
 * Named tensors that can be read one at a time: an open safetensors file, a sharded checkpoint, or an
 * in-memory {@link TensorMap}. Streaming consumers (merging, inspection, serving a model) go through this
 * so that only the tensor at hand needs to be resident.
 */
public interface TensorSource extends AutoCloseable {

    /** Tensor names in file order (the order the header lists them for safetensors). */
    List<String> names();

    /** Name, dtype and shape of every tensor, in {@link #names()} order. */
    List<TensorInfo> infos();

    /** The tensor called {@code name}; for files a zero-copy view valid until {@link #close()}. */
    Tensor tensor(String name);

    /** Whether a tensor of that name exists. */
    default boolean contains(String name) {
        return names().contains(name);
    }

    /** String metadata ({@code __metadata__} for safetensors); empty when there is none. */
    Map<String, String> metadata();

    /** Releases mappings; tensors obtained from this source must not be used afterwards. */
    @Override
    void close();
}
