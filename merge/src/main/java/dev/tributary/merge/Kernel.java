package dev.tributary.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The arithmetic of one method on one tensor, after validation: every input is finite f32 of the same
 * element count. Inputs are read-only (they may be views of a memory-mapped file); the result is a new
 * f32 segment of {@code in.numel()} elements allocated in {@code arena}.
 */
interface Kernel {

    MemorySegment merge(F32Inputs in, Arena arena);

    /** Whether {@link #observe} must see every tensor of the model before the first {@link #merge}. */
    default boolean twoPass() {
        return false;
    }

    /** First pass of a two-pass method. */
    default void observe(F32Inputs in) {
        throw new IllegalStateException("single-pass method observed a tensor");
    }
}
