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
 * <p>Two ways to pair ({@code matching}). {@code latest} (above, {@link #exchange}): every offer is
 * answered at once with a drawn peer's latest state, which may be a round old, and the peer does not hear
 * back. {@code pairs}, the paper's random matching ({@link #offer}): an offer waits until every worker the
 * relay knows has offered, or until the oldest waiting offer has waited {@code match_wait_seconds}; the
 * waiting offers are then shuffled (a function of the seed and the exchange count) and paired in turn,
 * and both members of a pair get each other's state from that same round. An odd one out is answered with
 * a drawn other worker's latest state, as under {@code latest}.
 *
 * <p>Configuration keys, with defaults: {@code inner_steps} 100 (H), {@code momentum} 0.3 (α),
 * {@code outer_lr} 0.7 (β), {@code peer_pull} = outer_lr (γ), {@code inner_optimizer} as for diloco,
 * {@code matching} latest, {@code match_wait_seconds} 30, {@code seed} 0. Thread-safe: calls are serialized.
 */
public final class NoLoCoRelay {
    private final TensorMap initial;
    private final InnerLoop inner;
    private final double momentum;
    private final double outerLr;
    private final double peerPull;
    private final long seed;
    private final boolean pairs;
    private final double matchWait;
    private final TreeMap<String, State> latest = new TreeMap<>();
    /** Under {@code pairs}: the offers waiting for a partner, by worker, with the time each arrived. */
    private final TreeMap<String, Waiting> waiting = new TreeMap<>();
    private long exchanges;

    private record Waiting(State state, double since) {}

    /**
     * The answer to one offer under {@code pairs} ({@link #offer}, {@link #expire}).
     *
     * @param worker   whose offer this answers
     * @param exchange exchanges answered, this one included
     * @param peer     the partner's state, or null when no other worker has offered yet
     * @param mutual   whether the partner got this worker's state of the same round in return
     */
    public record Match(String worker, long exchange, State peer, boolean mutual) {}

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

    private NoLoCoRelay(TensorMap initial, InnerLoop inner, double momentum, double outerLr, double peerPull, long seed,
                        boolean pairs, double matchWait) {
        this.initial = TensorOps.copy(initial);
        this.inner = inner;
        this.momentum = momentum;
        this.outerLr = outerLr;
        this.peerPull = peerPull;
        this.seed = seed;
        this.pairs = pairs;
        this.matchWait = matchWait;
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
        String matching = c.text("matching", "latest");
        if (!matching.equals("latest") && !matching.equals("pairs")) {
            throw new IllegalArgumentException(c.path("matching") + ": must be latest or pairs, got \"" + matching + "\"");
        }
        double matchWait = c.positive("match_wait_seconds", 30);
        c.finish();
        return new NoLoCoRelay(initialModel, inner, momentum, outerLr, peerPull, seed, matching.equals("pairs"), matchWait);
    }

    /** Whether offers wait to be matched in pairs ({@code matching: pairs}) rather than answered at once. */
    public boolean pairs() {
        return pairs;
    }

    /** Under {@code pairs}: the longest an offer waits for the other workers before the waiting ones are matched. */
    public double matchWaitSeconds() {
        return matchWait;
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
        if (pairs) {
            throw new IllegalStateException("matching is pairs: offers wait in offer()");
        }
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

    /**
     * Under {@code matching: pairs}: takes {@code offer} (at time {@code now}, in seconds on any clock the
     * caller keeps) as its sender's latest and lets it wait for a partner; when every worker the relay
     * knows is now waiting, matches them all. Returns the answers this completes, possibly none (the offer
     * waits: call {@link #expire} at {@link #deadline}).
     *
     * @throws IllegalArgumentException when a tensor does not fit the model (names, shapes, f32, finite)
     * @throws IllegalStateException    under {@code latest}, or when the sender already has an offer waiting
     */
    public synchronized List<Match> offer(State offer, double now) {
        if (!pairs) {
            throw new IllegalStateException("matching is latest: offers are answered by exchange()");
        }
        checkState("outer", offer.outer());
        checkState("outer_gradient", offer.outerGradient());
        if (waiting.containsKey(offer.worker())) {
            throw new IllegalStateException("worker " + offer.worker() + " already has an offer waiting");
        }
        State kept = new State(offer.worker(), offer.round(), TensorOps.copy(offer.outer()),
                TensorOps.copy(offer.outerGradient()));
        latest.put(offer.worker(), kept);
        waiting.put(offer.worker(), new Waiting(kept, now));
        return waiting.size() >= latest.size() ? matchWaiting() : List.of();
    }

    /** Under {@code pairs}: matches every waiting offer when the oldest has waited its time by {@code now}. */
    public synchronized List<Match> expire(double now) {
        return !waiting.isEmpty() && now >= deadline() ? matchWaiting() : List.of();
    }

    /** When the oldest waiting offer's wait runs out; infinity when none waits. */
    public synchronized double deadline() {
        double oldest = Double.POSITIVE_INFINITY;
        for (Waiting w : waiting.values()) {
            oldest = Math.min(oldest, w.since());
        }
        return oldest + matchWait;
    }

    /** Whether {@code worker} has an offer waiting for a partner. */
    public synchronized boolean isWaiting(String worker) {
        return waiting.containsKey(worker);
    }

    /**
     * Withdraws {@code worker}'s waiting offer (it went away before it was matched), and forgets its latest
     * state, so that the others no longer wait for it; returns whether it was waiting.
     */
    public synchronized boolean withdraw(String worker) {
        latest.remove(worker);
        return waiting.remove(worker) != null;
    }

    /** Shuffles the waiting offers, pairs them in turn, answers an odd one out one-sidedly; empties the pool. */
    private List<Match> matchWaiting() {
        List<State> pool = new ArrayList<>(waiting.size());
        for (Waiting w : waiting.values()) {
            pool.add(w.state());
        }
        waiting.clear();
        shuffle(pool, exchanges);
        List<Match> out = new ArrayList<>(pool.size());
        for (int i = 0; i < pool.size(); i++) {
            State me = pool.get(i);
            int p = partner(i, pool.size());
            exchanges++;
            if (p >= 0) {
                out.add(new Match(me.worker(), exchanges, pool.get(p), true));
            } else {
                List<State> others = new ArrayList<>(latest.size());
                for (State s : latest.values()) {
                    if (!s.worker().equals(me.worker())) {
                        others.add(s);
                    }
                }
                out.add(new Match(me.worker(), exchanges, others.isEmpty() ? null : others.get(draw(exchanges, others.size())),
                        false));
            }
        }
        return out;
    }

    /**
     * Under {@code matching: pairs}: the partner of position {@code i} among {@code n} shuffled offers, which
     * are paired in turn (0 with 1, 2 with 3, ...); -1 for the odd one out, the last of an odd count.
     */
    public static int partner(int i, int n) {
        int p = i ^ 1;
        return p < n ? p : -1;
    }

    /** Forgets every cached state and sets the exchange count, as a restarted relay starts. */
    public synchronized void restore(long exchangeCount) {
        if (exchangeCount < 0) {
            throw new IllegalArgumentException("exchange count < 0: " + exchangeCount);
        }
        latest.clear();
        waiting.clear();
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
     * Shuffles {@code xs} in place (Fisher–Yates), as a function of the seed, the exchange count before the
     * matching ({@code exchanges}) and the list's order only: how {@code matching: pairs} orders the waiting
     * offers, sorted by worker id, before pairing them in turn.
     */
    public <T> void shuffle(List<T> xs, long exchanges) {
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + exchanges + 0x5DEECE66DL);
        for (int i = xs.size() - 1; i > 0; i--) {
            java.util.Collections.swap(xs, i, r.nextInt(i + 1));
        }
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
