package dev.tributary.worker.diloco;

import dev.tributary.worker.InnerOptimizer;
import java.util.Objects;

/**
 * NoLoCo's loop as the relay hands it over: H inner steps between two outer steps, and the outer step's
 * momentum α, learning rate β and pull towards the peer γ (see {@link NoLoCoOuter}).
 *
 * @param innerSteps H, ≥ 1
 * @param momentum   α in [0, 1)
 * @param outerLr    β &gt; 0
 * @param peerPull   γ in [0, 1]
 * @param optimizer  the inner optimizer, kept across rounds
 */
public record NoLoCoPlan(int innerSteps, double momentum, double outerLr, double peerPull, InnerOptimizer optimizer) {
    public NoLoCoPlan {
        Objects.requireNonNull(optimizer, "optimizer");
        if (innerSteps < 1) {
            throw new IllegalArgumentException("inner steps < 1: " + innerSteps);
        }
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("outer momentum must be in [0, 1): " + momentum);
        }
        if (!(outerLr > 0) || !Double.isFinite(outerLr)) {
            throw new IllegalArgumentException("outer lr must be finite and > 0: " + outerLr);
        }
        if (!(peerPull >= 0 && peerPull <= 1)) {
            throw new IllegalArgumentException("peer pull must be in [0, 1]: " + peerPull);
        }
    }

    /** The plan a relay's reply carries. */
    public static NoLoCoPlan of(dev.tributary.protocol.NoLoCoPlan p) {
        dev.tributary.protocol.InnerOptimizer o = p.getInner().getOptimizer();
        return new NoLoCoPlan(p.getInner().getInnerSteps(), p.getMomentum(), p.getOuterLr(), p.getPeerPull(),
                new InnerOptimizer(o.getName(), o.getLr(), o.getWeightDecay(), o.getBeta1(), o.getBeta2(), o.getEps(),
                        o.getMomentum()));
    }
}
