package dev.tributary.coordinator.optimizer;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Heavy-ball or Nesterov momentum on the pseudo-gradient g = −Δ, with PyTorch's convention (no dampening,
 * the buffer starts at g), as Flower's FedAvgM and the DiLoCo outer step use it.
 */
final class MomentumOptimizer extends SlotOptimizer {
    private final double lr;
    private final double mu;
    private final boolean nesterov;

    MomentumOptimizer(double lr, double momentum, boolean nesterov) {
        super("momentum", momentum == 0 ? List.of() : List.of("buffer"));
        this.lr = positive("momentum lr", lr);
        this.mu = unitInterval("momentum", momentum);
        this.nesterov = nesterov;
    }

    @Override
    void update(long n, MemorySegment theta, MemorySegment delta, MemorySegment[] slots, boolean fresh, MemorySegment out) {
        if (slots.length == 0) {
            for (long i = 0; i < n; i++) {
                set(out, i, get(theta, i) + lr * get(delta, i));
            }
            return;
        }
        MemorySegment buffer = slots[0];
        for (long i = 0; i < n; i++) {
            double g = -(double) get(delta, i);
            double b = fresh ? g : mu * get(buffer, i) + g;
            set(buffer, i, b);
            set(out, i, get(theta, i) - lr * (nesterov ? g + mu * b : b));
        }
    }
}
