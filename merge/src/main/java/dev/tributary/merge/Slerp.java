package dev.tributary.merge;

import dev.tributary.tensor.Kernels;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Spherical interpolation between the base (t = 0) and one other model (t = 1), tensor by tensor on the
 * flattened tensors, as mergekit does: d = ⟨θ₀/‖θ₀‖, θ₁/‖θ₁‖⟩ (a norm at or below 1e-8 is not divided
 * by); when |d| > 0.9995 plain linear interpolation, else Ω = arccos d and
 * θ = sin((1−t)Ω)/sin Ω·θ₀ + sin(tΩ)/sin Ω·θ₁.
 */
final class Slerp extends Method {
    private static final double DOT_THRESHOLD = 0.9995;
    private static final double NORM_EPS = 1e-8;

    Slerp() {
        super("slerp", List.of(ParamDef.requiredNumber("t")), List.of(), true, 1, 1);
    }

    @Override
    Kernel kernel(Bound params) {
        double t = params.number("t");
        return (in, arena) -> interpolate(in, t, arena);
    }

    private static MemorySegment interpolate(F32Inputs in, double t, Arena arena) {
        long n = in.numel();
        MemorySegment v0 = in.base();
        MemorySegment v1 = in.model(0);
        double n0 = Kernels.l2Norm(v0, n);
        double n1 = Kernels.l2Norm(v1, n);
        double dot = Kernels.dot(v0, v1, n) / ((n0 > NORM_EPS ? n0 : 1) * (n1 > NORM_EPS ? n1 : 1));
        double s0;
        double s1;
        if (Math.abs(dot) > DOT_THRESHOLD) {
            s0 = 1 - t;
            s1 = t;
        } else {
            double omega = Math.acos(dot);
            double sin = Math.sin(omega);
            s0 = Math.sin((1 - t) * omega) / sin;
            s1 = Math.sin(t * omega) / sin;
        }
        MemorySegment out = F32.allocate(arena, n);
        for (long j = 0; j < n; j++) {
            F32.set(out, j, (float) (s0 * F32.get(v0, j) + s1 * F32.get(v1, j)));
        }
        return out;
    }
}
