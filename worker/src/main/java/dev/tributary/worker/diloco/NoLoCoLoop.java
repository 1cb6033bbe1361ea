package dev.tributary.worker.diloco;

import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;
import java.util.List;
import java.util.Map;

/**
 * One NoLoCo worker between its exchanges, without I/O, so that the worker and the simulator run the same
 * steps: a replica trained on through every round (its inner optimizer's state carries on) and the outer
 * state {@link NoLoCoOuter}. A round runs H inner steps and offers (φ, δ) to the relay ({@link #prepare});
 * with the peer's pair the relay answers, or none, it takes the outer step and restarts the fast weights
 * from the new φ ({@link #step}).
 *
 * <p>Call order: {@link #prepare}, {@link #step}; again.
 */
public final class NoLoCoLoop implements AutoCloseable {
    private final NoLoCoPlan plan;
    private final Replica replica;
    private final NoLoCoOuter outer;
    private TensorMap fast;
    private long round;

    /**
     * What a worker offers at the end of its inner steps.
     *
     * @param round         the worker's outer steps before this one
     * @param outer         φ
     * @param outerGradient δ = φ − θ
     * @param result        examples, steps and mean loss of the round (the delta is empty)
     */
    public record Offer(long round, TensorMap outer, TensorMap outerGradient, TrainResult result) {}

    /** @param replica opened from {@code initial}; closed with this loop */
    public NoLoCoLoop(NoLoCoPlan plan, Replica replica, TensorMap initial) {
        this.plan = plan;
        this.replica = replica;
        this.outer = new NoLoCoOuter(initial, plan.momentum(), plan.outerLr(), plan.peerPull());
    }

    public NoLoCoPlan plan() {
        return plan;
    }

    /** Outer steps taken so far. */
    public long round() {
        return round;
    }

    /** A copy of φ. */
    public TensorMap outer() {
        return outer.outer();
    }

    /** Runs the round's H inner steps and returns what goes to the relay. */
    public Offer prepare() {
        if (fast != null) {
            throw new IllegalStateException("round " + round + " was offered: step first");
        }
        TrainResult r = replica.train(plan.innerSteps());
        fast = replica.weights(outer.names());
        Map<String, Double> metrics = r.metrics().containsKey("loss") ? Map.of("loss", r.metrics().get("loss")) : Map.of();
        return new Offer(round, outer.outer(), outer.outerGradient(fast),
                new TrainResult(new TensorMap(), r.examples(), r.steps(), metrics));
    }

    /**
     * The outer step with the peer's φ and δ (both null: no peer, the worker steps alone); the replica's
     * weights become the new φ, its optimizer state stays.
     */
    public void step(TensorMap peerOuter, TensorMap peerGradient) {
        if (fast == null) {
            throw new IllegalStateException("round " + round + " has not been prepared");
        }
        if ((peerOuter == null) != (peerGradient == null)) {
            throw new IllegalArgumentException("a peer needs both its outer weights and its outer gradient");
        }
        TensorMap next = peerOuter == null ? outer.step(fast, List.of(), List.of())
                : outer.step(fast, List.of(peerOuter), List.of(peerGradient));
        replica.assign(next);
        fast = null;
        round++;
    }

    @Override
    public void close() {
        replica.close();
    }
}
