package dev.tributary.coordinator.service;

import dev.tributary.coordinator.strategy.InnerLoop;
import dev.tributary.protocol.Fragment;
import dev.tributary.protocol.InnerOptimizer;

/** DiLoCo's inner loop as registration hands it to workers (the simulator hands it over the same way). */
public final class InnerLoops {
    private InnerLoops() {}

    /** The inner loop as the protocol carries it. */
    public static dev.tributary.protocol.InnerLoop toProto(InnerLoop inner) {
        InnerLoop.Optimizer o = inner.optimizer();
        dev.tributary.protocol.InnerLoop.Builder b = dev.tributary.protocol.InnerLoop.newBuilder()
                .setInnerSteps(inner.innerSteps())
                .setMixingAlpha(inner.alpha())
                .setSyncDelay(inner.delay())
                .setOptimizer(InnerOptimizer.newBuilder().setName(o.name()).setLr(o.lr()).setWeightDecay(o.weightDecay())
                        .setBeta1(o.beta1()).setBeta2(o.beta2()).setEps(o.eps()).setMomentum(o.momentum()));
        inner.names().forEach(f -> b.addFragments(Fragment.newBuilder().addAllTensors(f)));
        return b.build();
    }
}
