package dev.tributary.coordinator.optimizer;

import dev.tributary.tensor.Kernels;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** θ ← θ + lr·Δ (f32, {@link Kernels#axpy}); no state besides the step counter. */
final class SgdOptimizer extends SlotOptimizer {
    private final double lr;

    SgdOptimizer(double lr) {
        super("sgd", List.of());
        this.lr = positive("sgd lr", lr);
    }

    @Override
    void update(long n, MemorySegment theta, MemorySegment delta, MemorySegment[] slots, boolean fresh, MemorySegment out) {
        MemorySegment.copy(theta, 0, out, 0, n * 4);
        Kernels.axpy((float) lr, delta, out, n);
    }
}
