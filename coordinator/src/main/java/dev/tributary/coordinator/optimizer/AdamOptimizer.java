package dev.tributary.coordinator.optimizer;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** FedAdam with Flower's bias-corrected step size, its server round counted from 1. */
final class AdamOptimizer extends SlotOptimizer {
    private final double lr;
    private final double beta1;
    private final double beta2;
    private final double tau;

    AdamOptimizer(double lr, double beta1, double beta2, double tau) {
        super("adam", List.of("m", "v"));
        this.lr = positive("adam lr", lr);
        this.beta1 = unitInterval("adam beta1", beta1);
        this.beta2 = unitInterval("adam beta2", beta2);
        this.tau = positive("adam tau", tau);
    }

    @Override
    void update(long n, MemorySegment theta, MemorySegment delta, MemorySegment[] slots, boolean fresh, MemorySegment out) {
        double round = steps() + 1;
        double eta = lr * Math.sqrt(1 - Math.pow(beta2, round + 1)) / (1 - Math.pow(beta1, round + 1));
        MemorySegment ms = slots[0];
        MemorySegment vs = slots[1];
        for (long i = 0; i < n; i++) {
            double d = get(delta, i);
            double m = beta1 * get(ms, i) + (1 - beta1) * d;
            double v = beta2 * get(vs, i) + (1 - beta2) * d * d;
            set(ms, i, m);
            set(vs, i, v);
            set(out, i, get(theta, i) + eta * m / (Math.sqrt(v) + tau));
        }
    }
}
