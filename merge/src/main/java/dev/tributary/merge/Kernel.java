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

    /** Whether {@link #mergeIfFinite} checks the inputs itself, on the way. */
    default boolean checksFinite() {
        return false;
    }

    /**
     * {@link #merge} of f32 inputs not yet checked for finiteness (no base, no tensor-valued parameters),
     * checking them in the same read of the inputs as the arithmetic.
     *
     * @return the result, or null when some input value is NaN or infinite
     */
    default MemorySegment mergeIfFinite(F32Inputs in, Arena arena) {
        throw new UnsupportedOperationException("kernel does not check its inputs");
    }

    /** Whether {@link #observe} must see every tensor of the model before the first {@link #merge}. */
    default boolean twoPass() {
        return false;
    }

    /** First pass of a two-pass method. */
    default void observe(F32Inputs in) {
        throw new IllegalStateException("single-pass method observed a tensor");
    }
}
