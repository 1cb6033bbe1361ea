package dev.tributary.merge;

import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** Element access and the few f32 loops the methods need beyond {@link Kernels}. */
final class F32 {
    /** In a class of its own, so that merges that never subtract do not load the vector API. */
    private static final class Simd {
        static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    }

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private F32() {}

    static float get(MemorySegment s, long i) {
        return s.get(Tensor.F32_LE, i * 4);
    }

    static void set(MemorySegment s, long i, float v) {
        s.set(Tensor.F32_LE, i * 4, v);
    }

    /** A zeroed segment of {@code n} floats. */
    static MemorySegment allocate(Arena arena, long n) {
        return arena.allocate(Math.max(n * 4, 1), 64).asSlice(0, n * 4);
    }

    /** A copy of {@code n} floats. */
    static MemorySegment copy(MemorySegment src, long n, Arena arena) {
        MemorySegment out = allocate(arena, n);
        MemorySegment.copy(src, 0, out, 0, n * 4);
        return out;
    }

    /** Index of the first NaN or infinity, or -1 when all {@code n} values are finite. */
    static long firstNonFinite(MemorySegment s, long n) {
        if (Kernels.allFinite(s, n)) {
            return -1;
        }
        for (long i = 0; i < n; i++) {
            if (!Float.isFinite(get(s, i))) {
                return i;
            }
        }
        return -1;
    }

    /** {@code out = a - b}, element-wise in f32. */
    static void sub(MemorySegment a, MemorySegment b, MemorySegment out, long n) {
        long i = 0;
        long bound = Simd.S.loopBound(n);
        long step = Simd.S.length();
        for (; i < bound; i += step) {
            FloatVector va = FloatVector.fromMemorySegment(Simd.S, a, i * 4, LE);
            FloatVector vb = FloatVector.fromMemorySegment(Simd.S, b, i * 4, LE);
            va.sub(vb).intoMemorySegment(out, i * 4, LE);
        }
        for (; i < n; i++) {
            set(out, i, get(a, i) - get(b, i));
        }
    }

    /** Σ|x|, accumulated in double. */
    static double sumAbs(MemorySegment x, long n) {
        double total = 0;
        for (long i = 0; i < n; i++) {
            total += Math.abs(get(x, i));
        }
        return total;
    }
}
