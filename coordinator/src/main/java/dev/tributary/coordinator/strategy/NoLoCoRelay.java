package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * NoLoCo's pairing relay (Kolehmainen et al. 2025): no all-reduce and no global outer step. Each worker
 * keeps its own outer weights φᵢ and momentum and, after its H inner steps, hands (φᵢ, δᵢ) to the relay;
 * the relay pairs it with one other worker drawn uniformly among those it holds a state of (sorted by id)
 * and answers with that peer's latest pair, then keeps the caller's as its latest. The worker takes the
 * outer step itself (worker {@code NoLoCoOuter}). Pure and deterministic: the draw of exchange k is a
 * function of the seed and k only, so the same exchanges in the same order pair the same way.
 *
 * <p>What it must and need not keep: the relay owns no model state. Every φᵢ and momentum lives on its
 * worker, which sends φᵢ again at its next exchange; the relay holds a cache of the latest pair per worker.
 * After a restart the cache is empty: the next exchanges come back unpaired (those workers step alone,
 * NoLoCo with a group of one, i.e. local outer SGD with momentum) until each worker has exchanged once
 * more, and no acknowledged state is lost. The draws after a restart continue from the exchange count, so
 * they are deterministic too, given the count ({@link #restore}). The relay's {@link #model()} (the mean
 * of the latest φ's, for evaluation and for new workers) is recomputed, never published as a version.
 *
 * <p>Configuration keys, with defaults: {@code inner_steps} 100 (H), {@code momentum} 0.3 (α),
 * {@code outer_lr} 0.7 (β), {@code peer_pull} = outer_lr (γ), {@code inner_optimizer} as for diloco,
 * {@code seed} 0. Thread-safe: calls are serialized.
 */
public final class NoLoCoRelay {
    private final TensorMap initial;
    private final InnerLoop inner;
    private final double momentum;
    private final double outerLr;
    private final double peerPull;
    private final long seed;
    private final TreeMap<String, State> latest = new TreeMap<>();
    private long exchanges;

    /**
     * One worker's outer state as it offered it.
     *
     * @param worker        the worker's id
     * @param round         its outer steps before this exchange
     * @param outer         φ
     * @param outerGradient δ = φ − θ
     */
    public record State(String worker, long round, TensorMap outer, TensorMap outerGradient) {
        public State {
            Objects.requireNonNull(worker, "worker");
            Objects.requireNonNull(outer, "outer");
            Objects.requireNonNull(outerGradient, "outerGradient");
        }
    }

    /**
     * The answer to one exchange.
     *
     * @param exchange exchanges answered, this one included
     * @param peer     the peer's latest state, or null when no other worker has exchanged yet
     */
    public record Pairing(long exchange, State peer) {}

    private NoLoCoRelay(TensorMap initial, InnerLoop inner, double momentum, double outerLr, double peerPull, long seed) {
        this.initial = TensorOps.copy(initial);
        this.inner = inner;
        this.momentum = momentum;
        this.outerLr = outerLr;
        this.peerPull = peerPull;
        this.seed = seed;
    }

    /**
     * A relay over {@code initialModel} (f32 tensors only).
     *
     * @throws IllegalArgumentException naming the key and the rule for a bad configuration
     */
    public static NoLoCoRelay create(Map<String, Object> config, TensorMap initialModel) {
        Config c = new Config("noloco", config);
        TensorOps.checkModel("initial model", initialModel);
        for (String k : List.of("mixing_alpha", "sync_delay", "fragments")) {
            if (c.has(k)) {
                throw new IllegalArgumentException(c.path(k) + ": Streaming DiLoCo's setting; noloco syncs the whole model");
            }
        }
        InnerLoop inner = InnerLoop.parse(c, dev.tributary.tensor.Fragments.byTensors(initialModel.infos(), 1), 100);
        double momentum = Settings.unit(c, "momentum", 0.3);
        double outerLr = c.positive("outer_lr", 0.7);
        double peerPull = c.number("peer_pull", outerLr);
        if (!(peerPull >= 0 && peerPull <= 1)) {
            throw new IllegalArgumentException(c.path("peer_pull") + ": must be in [0, 1], got " + peerPull);
        }
        long seed = c.whole("seed", 0, Long.MIN_VALUE);
        c.finish();
        return new NoLoCoRelay(initialModel, inner, momentum, outerLr, peerPull, seed);
    }

    /** What every worker runs: H and the inner optimizer (one fragment, no mixing, no delay). */
    public InnerLoop innerLoop() {
        return inner;
    }

    /** α. */
    public double momentum() {
        return momentum;
    }

    /** β. */
    public double outerLr() {
        return outerLr;
    }

    /** γ. */
    public double peerPull() {
        return peerPull;
    }

    /** Exchanges answered so far. */
    public synchronized long exchanges() {
        return exchanges;
    }

    /** Workers the relay holds a state of. */
    public synchronized int workers() {
        return latest.size();
    }

    /**
     * Pairs {@code offer} with a uniformly drawn other worker's latest state and keeps {@code offer} as its
     * sender's latest.
     *
     * @throws IllegalArgumentException when a tensor does not fit the model (names, shapes, f32, finite)
     */
    public synchronized Pairing exchange(State offer) {
        checkState("outer", offer.outer());
        checkState("outer_gradient", offer.outerGradient());
        List<State> others = new ArrayList<>(latest.size());
        for (State s : latest.values()) {
            if (!s.worker().equals(offer.worker())) {
                others.add(s);
            }
        }
        exchanges++;
        State peer = others.isEmpty() ? null : others.get(draw(exchanges, others.size()));
        latest.put(offer.worker(), new State(offer.worker(), offer.round(), TensorOps.copy(offer.outer()),
                TensorOps.copy(offer.outerGradient())));
        return new Pairing(exchanges, peer);
    }

    /** Forgets every cached state and sets the exchange count, as a restarted relay starts. */
    public synchronized void restore(long exchangeCount) {
        if (exchangeCount < 0) {
            throw new IllegalArgumentException("exchange count < 0: " + exchangeCount);
        }
        latest.clear();
        exchanges = exchangeCount;
    }

    /** The mean of the latest φ of every worker (the initial model before any exchange). */
    public synchronized TensorMap model() {
        if (latest.isEmpty()) {
            return initial;
        }
        List<TensorMap> xs = latest.values().stream().map(State::outer).toList();
        float[] c = new float[xs.size()];
        java.util.Arrays.fill(c, 1f / xs.size());
        return TensorOps.weightedSum(initial, xs, c);
    }

    /**
     * The peer exchange {@code exchange} (counted from 1) pairs with: an index into the {@code candidates}
     * other workers sorted by id, a function of the seed and the exchange only.
     */
    public int draw(long exchange, int candidates) {
        if (candidates < 1) {
            throw new IllegalArgumentException("candidates < 1: " + candidates);
        }
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + exchange).nextInt(candidates);
    }

    /**
     * Checks that {@code m} fits the model: its names, shapes, f32, finite values.
     *
     * @param what the state's field, for the message ({@code outer}, {@code outer_gradient})
     * @throws IllegalArgumentException naming the tensor and the rule
     */
    public void checkState(String what, TensorMap m) {
        String misfit = TensorOps.misfit(initial, m, initial.names());
        if (misfit != null) {
            throw new IllegalArgumentException(what + ": " + misfit.replace("delta", "state"));
        }
        for (String n : m.names()) {
            float[] v = m.tensor(n).toFloatArray();
            for (float x : v) {
                if (!Float.isFinite(x)) {
                    throw new IllegalArgumentException(what + ": tensor " + n + " has a non-finite value " + x);
                }
            }
        }
    }
}
