package dev.tributary.coordinator.strategy;

import dev.tributary.coordinator.optimizer.ServerOptimizer;
import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Synchronous rounds: FedAvg, and DiLoCo's outer loop. A round collects updates trained from the current
 * version and closes when {@code expected} have arrived, or, once its deadline has passed, as soon as it
 * holds {@code minWorkers}; then the aggregate delta Δ goes through the server optimizer and the result is
 * published. Updates trained from an older version are refused as {@link Refused#STALE_ROUND}.
 *
 * <p>The deadline counts from the first {@link #deadlineDue} after the round opened, since updates carry
 * no time; after a restart it counts afresh. That it passed is an event of its own ({@link #onDeadline}),
 * which the service logs so that replay closes the same rounds.
 *
 * <p>With F fragments (Streaming DiLoCo, {@link Fragments}) the round publishing version v+1 merges only
 * fragment v mod F: updates must carry that fragment's values, a tensor it cuts as the 1-D slice of it
 * (other tensors are ignored), and each fragment has its own optimizer over its slices.
 */
final class RoundStrategy extends BaseStrategy {
    /**
     * @param expected         updates that close a round
     * @param minWorkers       updates that close a round once its deadline has passed
     * @param deadlineMillis   the deadline, 0 for none
     * @param weightByExamples weights are example counts, else all 1
     * @param fragments        the slices of each fragment, together the whole model
     * @param innerLoop        what workers run between syncs (DiLoCo), or null
     */
    record Settings(int expected, int minWorkers, long deadlineMillis, boolean weightByExamples, Aggregator aggregator,
            Supplier<ServerOptimizer> optimizer, List<List<Fragments.Slice>> fragments, InnerLoop innerLoop) {}

    private final Settings settings;
    private final ServerOptimizer[] optimizers;
    private final List<Update> pending = new ArrayList<>();
    private final Set<String> pendingIds = new HashSet<>();
    private long openedAt = -1;
    private long lastTick = -1;
    private boolean deadlinePassed;

    RoundStrategy(String name, TensorMap initialModel, long maxStaleness, Settings settings) {
        super(name, initialModel, maxStaleness);
        this.settings = settings;
        this.optimizers = new ServerOptimizer[settings.fragments().size()];
        for (int f = 0; f < optimizers.length; f++) {
            optimizers[f] = settings.optimizer().get();
        }
    }

    private int fragment() {
        return (int) Math.floorMod(version(), (long) optimizers.length);
    }

    @Override
    public Decision onUpdate(Update u) {
        List<Fragments.Slice> slices = settings.fragments().get(fragment());
        List<String> names = slices.stream().map(Fragments.Slice::name).toList();
        TensorMap layout = optimizers.length == 1 ? model() : TensorOps.replace(model(), Fragments.cut(model(), slices));
        Refused refused = admit(u, names, layout, settings.weightByExamples());
        if (refused != null) {
            return refused;
        }
        if (u.baseVersion() < version()) {
            return new Refused("update " + u.id() + ": base version " + u.baseVersion() + " < round version " + version(),
                    Refused.STALE_ROUND);
        }
        if (!pendingIds.add(u.id())) {
            return new Refused("update " + u.id() + ": already in round " + version(), Refused.DUPLICATE);
        }
        pending.add(u);
        if (pending.size() >= settings.expected() || (deadlinePassed && pending.size() >= settings.minWorkers())) {
            Decision d = close(u.id());
            if (d instanceof Refused) {
                pending.removeLast();
                pendingIds.remove(u.id());
            }
            return d;
        }
        return new Buffered(pending.size(), settings.expected());
    }

    @Override
    public boolean deadlineDue(long nowMillis) {
        if (settings.deadlineMillis() <= 0 || deadlinePassed) {
            return false;
        }
        if (openedAt < 0) {
            openedAt = nowMillis;
        }
        lastTick = nowMillis;
        return nowMillis - openedAt >= settings.deadlineMillis();
    }

    @Override
    public Decision onDeadline() {
        deadlinePassed = true;
        if (!pending.isEmpty() && pending.size() >= settings.minWorkers()) {
            Decision d = close(null);
            if (d instanceof Published) {
                openedAt = lastTick; // the next round's clock starts when this one closed
            }
            // A round whose aggregate would overflow stays open: the next update is judged against it.
            return d instanceof Published ? d : new Buffered(pending.size(), settings.expected());
        }
        return new Buffered(pending.size(), settings.expected());
    }

    @Override
    public InnerLoop innerLoop() {
        return settings.innerLoop();
    }

    @Override
    public int needed() {
        return settings.expected();
    }

    @Override
    public int held() {
        return pending.size();
    }

    @Override
    public void adopt(List<Update> held) {
        for (Update u : held) {
            if (pendingIds.add(u.id())) {
                pending.add(u);
            }
        }
    }

    /** Publishes the round, or refuses {@code lastId} (the update that completed it) on overflow. */
    private Decision close(String lastId) {
        int f = fragment();
        List<Fragments.Slice> slices = settings.fragments().get(f);
        List<String> names = slices.stream().map(Fragments.Slice::name).toList();
        TensorMap base = Fragments.cut(model(), slices);
        List<Aggregator.Input> inputs = new ArrayList<>(pending.size());
        for (Update u : pending) {
            inputs.add(new Aggregator.Input(u.id(), TensorOps.subset(u.delta(), names),
                    settings.weightByExamples() ? u.examples() : 1));
        }
        TensorMap saved = optimizers[f].exportState();
        TensorMap delta = settings.aggregator().aggregate(base, inputs);
        TensorMap stepped = optimizers[f].step(base, delta);
        Refused overflow = nonFinite(lastId == null ? "closing round " + version() : "update " + lastId, stepped);
        if (overflow != null) {
            optimizers[f] = settings.optimizer().get();
            optimizers[f].restoreState(saved);
            return overflow;
        }
        List<Update> merged = List.copyOf(pending);
        publish(optimizers.length == 1 ? stepped : Fragments.paste(model(), stepped, slices));
        pending.clear();
        pendingIds.clear();
        deadlinePassed = false;
        openedAt = -1;
        return new Published(version(), ids(merged), averageMetrics(merged));
    }

    @Override
    void writeState(TensorMap state) {
        for (int f = 0; f < optimizers.length; f++) {
            nest("optimizer/" + f + "/", optimizers[f].exportState(), state);
        }
    }

    @Override
    void readState(TensorMap state, long version) {
        ServerOptimizer[] restored = new ServerOptimizer[optimizers.length];
        for (int f = 0; f < restored.length; f++) {
            TensorMap inner = unnest("optimizer/" + f + "/", state);
            restored[f] = settings.optimizer().get();
            restored[f].restoreState(inner);
        }
        if (!unnest("optimizer/" + restored.length + "/", state).metadata().isEmpty()) {
            throw new IllegalArgumentException("strategy state has optimizer state for more than " + restored.length
                    + " fragments");
        }
        System.arraycopy(restored, 0, optimizers, 0, restored.length);
        pending.clear();
        pendingIds.clear();
        deadlinePassed = false;
        openedAt = -1;
    }
}
