package dev.tributary.merge.lora;

import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * W ± s·ΔW for one module, in f32, one row of W at a time: each row of ΔW is accumulated in a scratch
 * row and then added to W in a single rounding step, so that merging and then unmerging the same
 * adapter returns W to within one rounding of the merged value.
 */
final class LoraMath {
    private LoraMath() {}

    /**
     * Adds {@code sign·scale·ΔW} to {@code w} (f32, rows×cols, row-major), where ΔW = B·A
     * ({@code transposed} false: W is (out, in), A is (r, in), B is (out, r)) or ΔW = (B·A)ᵀ
     * ({@code transposed} true: W is (in, out), as for fan_in_fan_out weights and embeddings).
     */
    static void apply(MemorySegment w, long rows, long cols, MemorySegment a, MemorySegment b, int r, double scale,
                      boolean transposed, Arena arena) {
        MemorySegment basis;
        if (transposed) {
            basis = arena.allocate(r * cols * 4, 64);
            for (long o = 0; o < cols; o++) {
                for (int k = 0; k < r; k++) {
                    basis.set(Tensor.F32_LE, (k * cols + o) * 4, b.get(Tensor.F32_LE, (o * r + k) * 4));
                }
            }
        } else {
            basis = a;
        }
        MemorySegment scratch = arena.allocate(cols * 4, 64);
        float s = (float) scale;
        for (long row = 0; row < rows; row++) {
            scratch.fill((byte) 0);
            for (int k = 0; k < r; k++) {
                float c = transposed ? a.get(Tensor.F32_LE, (k * rows + row) * 4)
                        : b.get(Tensor.F32_LE, (row * r + k) * 4);
                if (c != 0f) {
                    Kernels.axpy(c, basis.asSlice(k * cols * 4, cols * 4), scratch, cols);
                }
            }
            Kernels.axpy(s, scratch, w.asSlice(row * cols * 4, cols * 4), cols);
        }
    }
}
