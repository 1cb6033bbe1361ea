package dev.tributary.coordinator.optimizer;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** FedAdagrad as Flower implements it (its default β₁ = 0, so the first moment is Δ itself). */
final class AdagradOptimizer extends SlotOptimizer {
    private final double lr;
    private final double tau;

    AdagradOptimizer(double lr, double tau) {
        super("adagrad", List.of("v"));
        this.lr = positive("adagrad lr", lr);
        this.tau = positive("adagrad tau", tau);
    }

    @Override
    void update(long n, MemorySegment theta, MemorySegment delta, MemorySegment[] slots, boolean fresh, MemorySegment out) {
        MemorySegment vs = slots[0];
        for (long i = 0; i < n; i++) {
            double d = get(delta, i);
            double v = get(vs, i) + d * d;
            set(vs, i, v);
            set(out, i, get(theta, i) + lr * d / (Math.sqrt(v) + tau));
        }
    }
}
