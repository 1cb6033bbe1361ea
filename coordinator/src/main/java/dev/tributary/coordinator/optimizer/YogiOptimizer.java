package dev.tributary.coordinator.optimizer;

import java.lang.foreign.MemorySegment;
import java.util.List;

/** FedYogi as Flower implements it: additive second-moment update, no bias correction. */
final class YogiOptimizer extends SlotOptimizer {
    private final double lr;
    private final double beta1;
    private final double beta2;
    private final double tau;

    YogiOptimizer(double lr, double beta1, double beta2, double tau) {
        super("yogi", List.of("m", "v"));
        this.lr = positive("yogi lr", lr);
        this.beta1 = unitInterval("yogi beta1", beta1);
        this.beta2 = unitInterval("yogi beta2", beta2);
        this.tau = positive("yogi tau", tau);
    }

    @Override
    void update(long n, MemorySegment theta, MemorySegment delta, MemorySegment[] slots, boolean fresh, MemorySegment out) {
        MemorySegment ms = slots[0];
        MemorySegment vs = slots[1];
        for (long i = 0; i < n; i++) {
            double d = get(delta, i);
            double d2 = d * d;
            double m = beta1 * get(ms, i) + (1 - beta1) * d;
            double vPrev = get(vs, i);
            double v = vPrev - (1 - beta2) * d2 * Math.signum(vPrev - d2);
            set(ms, i, m);
            set(vs, i, v);
            set(out, i, get(theta, i) + lr * m / (Math.sqrt(v) + tau));
        }
    }
}
