package dev.tributary.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The arithmetic of one method on one tensor, after validation: every input is f32 of the same element
 * count, and finite (checked before the call, or through the result when {@link #propagatesNonFinite}). Inputs are read-only (they may be views of a memory-mapped file); the result is a new
 * f32 segment of {@code in.numel()} elements allocated in {@code arena}.
 */
interface Kernel {

    MemorySegment merge(F32Inputs in, Arena arena);

    /** Whether {@link #observe} must see every tensor of the model before the first {@link #merge}. */
    default boolean twoPass() {
        return false;
    }

    /**
     * Whether a NaN or infinity in any input always makes the result non-finite at that element (a
     * weighted sum: {@code w·x} is non-finite for non-finite {@code x}, even for {@code w = 0}, and stays
     * so through every later addition). Then a finite result proves the inputs finite, and the inputs are
     * scanned only to name the culprit when it is not: one pass over the inputs instead of two.
     */
    default boolean propagatesNonFinite() {
        return false;
    }

    /** First pass of a two-pass method. */
    default void observe(F32Inputs in) {
        throw new IllegalStateException("single-pass method observed a tensor");
    }
}
