package dev.tributary.merge;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

/**
 * One tensor of every model as finite f32 segments (little-endian), ready for a {@link Kernel}; not yet
 * checked for finiteness only when given to {@link Kernel#mergeIfFinite}.
 *
 * @param name    the tensor's name
 * @param numel   elements per segment
 * @param shape   the tensor's shape
 * @param models  one segment per model, in bound order
 * @param base    the base model's segment, or null
 * @param tensors tensor-valued parameters, one segment per model
 */
record F32Inputs(String name, long numel, long[] shape, List<MemorySegment> models, MemorySegment base,
                 Map<String, List<MemorySegment>> tensors) {

    MemorySegment model(int i) {
        return models.get(i);
    }

    int count() {
        return models.size();
    }
}
