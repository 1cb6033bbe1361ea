package dev.tributary.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * One model's tensor unchanged, or multiplied by its {@code scale} when one is given (mergekit's
 * passthrough, the method of frankenmerges: the slices choose which layers, this copies them).
 */
final class Passthrough extends Method {
    Passthrough() {
        super("passthrough", List.of(), List.of(ParamDef.optionalNumber("scale")), false, 1, 1);
    }

    @Override
    Kernel kernel(Bound params) {
        Double scale = params.optionalModelNumber(0, "scale");
        return (in, arena) -> copy(in, scale, arena);
    }

    private static MemorySegment copy(F32Inputs in, Double scale, Arena arena) {
        MemorySegment out = F32.copy(in.model(0), in.numel(), arena);
        if (scale != null) {
            float s = scale.floatValue();
            for (long j = 0; j < in.numel(); j++) {
                F32.set(out, j, F32.get(out, j) * s);
            }
        }
        return out;
    }
}
