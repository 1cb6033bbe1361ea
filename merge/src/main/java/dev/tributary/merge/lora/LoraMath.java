package dev.tributary.merge.lora;

import dev.tributary.tensor.Conversions;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * W ± s·ΔW for one module (and DoRA's per-output rescaling), in f32, one row of W at a time: each row of ΔW is accumulated in a scratch
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
        apply(w, rows, cols, a, b, r, scale, transposed, null, arena);
    }

    /**
     * As {@link #apply(MemorySegment, long, long, MemorySegment, MemorySegment, int, double, boolean, Arena)},
     * but with {@code deltaDtype} (F16 or BF16) each entry of scale·ΔW is first rounded to that dtype, as
     * PEFT does where it casts the delta to the weight's dtype before adding it ({@code delta.to(orig_dtype)}).
     */
    static void apply(MemorySegment w, long rows, long cols, MemorySegment a, MemorySegment b, int r, double scale,
                      boolean transposed, DType deltaDtype, Arena arena) {
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
            if (deltaDtype == null || deltaDtype == DType.F32) {
                Kernels.axpy(s, scratch, w.asSlice(row * cols * 4, cols * 4), cols);
            } else {
                for (long j = 0; j < cols; j++) {
                    float d = s * scratch.get(Tensor.F32_LE, j * 4);
                    d = deltaDtype == DType.BF16 ? Conversions.bf16ToF32(Conversions.f32ToBf16(d))
                            : Conversions.f16ToF32(Conversions.f32ToF16(d));
                    long at = (row * cols + j) * 4;
                    w.set(Tensor.F32_LE, at, w.get(Tensor.F32_LE, at) + d);
                }
            }
        }
    }
    /**
     * The L2 norm of each output of {@code w} (f32, rows×cols): of each row when not {@code transposed}
     * (W is (out, in)), of each column when it is (W is (in, out)). This is PEFT's DoRA weight norm,
     * {@code torch.linalg.norm(W_out_in, dim=1)}, accumulated here in double.
     */
    static float[] outputNorms(MemorySegment w, long rows, long cols, boolean transposed) {
        double[] sums = new double[(int) (transposed ? cols : rows)];
        for (long row = 0; row < rows; row++) {
            for (long col = 0; col < cols; col++) {
                double v = w.get(Tensor.F32_LE, (row * cols + col) * 4);
                sums[(int) (transposed ? col : row)] += v * v;
            }
        }
        float[] norms = new float[sums.length];
        for (int i = 0; i < norms.length; i++) {
            norms[i] = (float) Math.sqrt(sums[i]);
        }
        return norms;
    }

    /**
     * Multiplies each output of {@code w} by {@code factor[o]} (or divides by it with {@code divide}), PEFT's
     * {@code dora_factor * W} and {@code W / dora_factor}.
     */
    static void scaleOutputs(MemorySegment w, long rows, long cols, boolean transposed, float[] factor,
                             boolean divide) {
        for (long row = 0; row < rows; row++) {
            for (long col = 0; col < cols; col++) {
                long at = (row * cols + col) * 4;
                float f = factor[(int) (transposed ? col : row)];
                float v = w.get(Tensor.F32_LE, at);
                w.set(Tensor.F32_LE, at, divide ? v / f : v * f);
            }
        }
    }
}
