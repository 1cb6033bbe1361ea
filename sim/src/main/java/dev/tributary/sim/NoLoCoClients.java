package dev.tributary.sim;

import dev.tributary.coordinator.service.InnerLoops;
import dev.tributary.coordinator.strategy.Decision;
import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.protocol.NoLoCoPlan;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.diloco.NoLoCoLoop;
import java.util.ArrayList;
import java.util.List;

/**
 * The simulator's NoLoCo: every client runs the worker's own loop ({@link NoLoCoLoop}, with the plan the
 * relay hands real workers), and each exchange goes through the coordinator's {@link NoLoCoRelay}, seeded
 * from the run's seed, so a configuration and seed pair the same clients in the same order every run.
 * An offer carries φ and δ (two model images up); a paired answer carries the peer's two (down).
 *
 * <p>NoLoCo has no global model: as in the paper's evaluation, each worker's own current model is scored
 * and the run's accuracy is the mean over workers ({@link #score}); the accuracy of the mean of those
 * models is reported beside it.
 */
final class NoLoCoClients implements AutoCloseable {
    private final NoLoCoRelay relay;
    private final dev.tributary.worker.diloco.NoLoCoPlan plan;
    private final NoLoCoLoop[] loops;
    private final NoLoCoLoop.Offer[] offers;

    NoLoCoClients(NoLoCoRelay relay, int clients) {
        this.relay = relay;
        this.plan = dev.tributary.worker.diloco.NoLoCoPlan.of(NoLoCoPlan.newBuilder()
                .setInner(InnerLoops.toProto(relay.innerLoop())).setMomentum(relay.momentum())
                .setOuterLr(relay.outerLr()).setPeerPull(relay.peerPull()).build());
        this.loops = new NoLoCoLoop[clients];
        this.offers = new NoLoCoLoop.Offer[clients];
    }

    dev.tributary.worker.diloco.NoLoCoPlan plan() {
        return plan;
    }

    /**
     * Client {@code c}'s H inner steps, its replica opened at its first round (or after it went offline)
     * from the relay's model, as a joining worker starts; returns its examples.
     */
    long train(int c, Workload workload, long seed) {
        if (loops[c] == null) {
            TensorMap start = relay.model();
            loops[c] = new NoLoCoLoop(plan, workload.open(c, start, plan.optimizer(), seed), start);
        }
        offers[c] = loops[c].prepare();
        return offers[c].result().examples();
    }

    /** Drops client {@code c}'s prepared offer (it went offline); its outer state stays as before the round. */
    void lose(int c) {
        if (relay.pairs()) {
            relay.withdraw(id(c)); // the others no longer wait for it
        }
        if (offers[c] != null) {
            loops[c].close();
            loops[c] = null; // a worker that restarts opens a fresh replica from the relay's model
            offers[c] = null;
        }
    }

    /** The worker id client {@code c} pushes and exchanges under. */
    static String id(int c) {
        return "client-" + c;
    }

    /** Whether offers wait to be matched in pairs. */
    boolean pairs() {
        return relay.pairs();
    }

    /** Whether client {@code c}'s offer is waiting for a partner. */
    boolean waiting(int c) {
        return relay.pairs() && relay.isWaiting(id(c));
    }

    /** When the oldest waiting offer's wait runs out (infinity when none waits). */
    double deadline() {
        return relay.pairs() ? relay.deadline() : Double.POSITIVE_INFINITY;
    }

    /** One client's answered exchange: whether a peer's state came back. */
    record Answered(int client, boolean paired) {}

    /**
     * Client {@code c}'s offer at virtual time {@code now}; returns the clients whose exchange this answers
     * (each has taken its outer step): {@code c} alone under {@code matching: latest}; under {@code pairs},
     * none while the offer waits, or every waiting client once they are matched.
     */
    List<Answered> offer(int c, double now) {
        NoLoCoLoop.Offer o = offers[c];
        NoLoCoRelay.State state = new NoLoCoRelay.State(id(c), o.round(), o.outer(), o.outerGradient());
        if (!relay.pairs()) {
            NoLoCoRelay.Pairing p = relay.exchange(state);
            return List.of(step(c, p.peer()));
        }
        return steps(relay.offer(state, now));
    }

    /** Under {@code pairs}: the exchanges whose wait ran out by {@code now}, answered. */
    List<Answered> expire(double now) {
        return relay.pairs() ? steps(relay.expire(now)) : List.of();
    }

    private List<Answered> steps(List<NoLoCoRelay.Match> matches) {
        List<Answered> out = new ArrayList<>(matches.size());
        for (NoLoCoRelay.Match m : matches) {
            out.add(step(Integer.parseInt(m.worker().substring("client-".length())), m.peer()));
        }
        return out;
    }

    private Answered step(int c, NoLoCoRelay.State peer) {
        if (peer == null) {
            loops[c].step(null, null);
        } else {
            loops[c].step(peer.outer(), peer.outerGradient());
        }
        offers[c] = null;
        return new Answered(c, peer != null);
    }

    /**
     * Each worker's own model and their mean.
     *
     * @param mean     the mean of the workers' accuracies (what the paper reports)
     * @param min      the worst worker's
     * @param max      the best worker's
     * @param averaged the accuracy of the element-wise mean of the workers' models
     */
    record Scores(double mean, double min, double max, double averaged) {}

    /**
     * Scores the current outer weights φ (after the latest outer step) of every client holding a replica
     * (an offline client holds none) and their mean, with {@code workload}; the relay's model when no client
     * holds one.
     */
    Scores score(Workload workload) {
        List<TensorMap> models = new ArrayList<>(loops.length);
        for (NoLoCoLoop l : loops) {
            if (l != null) {
                models.add(l.outer());
            }
        }
        if (models.isEmpty()) {
            models.add(relay.model());
        }
        double sum = 0;
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (TensorMap m : models) {
            double a = workload.accuracy(m);
            sum += a;
            min = Math.min(min, a);
            max = Math.max(max, a);
        }
        return new Scores(sum / models.size(), min, max, workload.accuracy(mean(models)));
    }

    /** The element-wise mean of {@code models} (same names and shapes, f32), summed in f64. */
    static TensorMap mean(List<TensorMap> models) {
        TensorMap first = models.getFirst();
        TensorMap out = new TensorMap();
        for (String n : first.names()) {
            double[] sum = new double[first.tensor(n).toFloatArray().length];
            for (TensorMap m : models) {
                float[] v = m.tensor(n).toFloatArray();
                for (int k = 0; k < sum.length; k++) {
                    sum[k] += v[k];
                }
            }
            float[] mean = new float[sum.length];
            for (int k = 0; k < sum.length; k++) {
                mean[k] = (float) (sum[k] / models.size());
            }
            out.put(n, Tensor.ofFloats(first.tensor(n).shape(), mean));
        }
        return out;
    }

    /** The relay seen as a strategy by the simulator's bookkeeping: version = exchanges, model = mean of the latest φ. */
    Strategy view() {
        return new Strategy() {
            @Override
            public String name() {
                return "noloco";
            }

            @Override
            public Decision onUpdate(Update u) {
                throw new UnsupportedOperationException("noloco exchanges through the relay, not through updates");
            }

            @Override
            public TensorMap model() {
                return relay.model();
            }

            @Override
            public long version() {
                return relay.exchanges();
            }

            @Override
            public TensorMap exportState() {
                return new TensorMap();
            }

            @Override
            public void restoreState(TensorMap model, long version, TensorMap state) {
                throw new UnsupportedOperationException("the relay keeps no state to restore");
            }
        };
    }

    @Override
    public void close() {
        for (NoLoCoLoop l : loops) {
            if (l != null) {
                l.close();
            }
        }
    }
}
