package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * FedAsync (Xie et al.; Plato's defaults): every admitted update is mixed into the model at once and
 * published, with rate αₜ = min(1, α·s(τ)).
 *
 * <p>{@code mixing: model} (the default) is the paper's and Plato's rule θ ← (1−αₜ)·θ + αₜ·θ_new, where
 * θ_new = θ_base + δ is the model the worker ended with. Rebuilding θ_new needs the model the worker
 * started from, so the models of the last {@code history} versions are kept (and exported with the
 * state: its size is up to that many models). {@code mixing: delta} is θ ← θ + αₜ·δ, which keeps no
 * history; the two agree when τ = 0 and differ for stale updates by αₜ·(θ_base − θ), the pull of the
 * paper's rule back towards the old model.
 *
 * <p>With {@code alpha_scale: auto} (the default) α is capped at 1/Ĉ, Ĉ the concurrency observed from the
 * updates ({@link ConcurrencyEstimate}): Ĉ updates, one round of every client in training, then move the
 * model about as far as one FedAvg round over them, however many clients there are (docs/ASYNC.md).
 *
 * <p>With {@code examples_floor} φ > 0 (0.1 with {@code alpha_scale: auto}, 0 otherwise) an update of n
 * examples mixes in at αₜ·min(1, n/(φ·r)), r = Σn²/Σn the examples-weighted mean size of the updates merged
 * so far (this one included): a client with a handful of examples finishes its epoch at once and, pushing
 * many times as often as the others, would pull the model towards its own shard at the full rate each time.
 * An update that reports no examples (n = 0) is mixed in without the factor and leaves r as it is. The sums
 * are exported with the state, so a replay reaches the same model bit for bit.
 *
 * <p>With {@code staleness_clock: workers} (the default with {@code alpha_scale: auto}) τ, in s(τ) and
 * against {@code max_staleness}, counts the distinct workers whose updates were merged since the update's
 * base ({@link WorkerClock}) instead of the versions: FedAsync publishes a version per update, so counted in
 * versions one client pushing many times as often as the rest ages everyone else's update by its own pace.
 * τ_w equals τ where no worker merged twice since the base. Under this clock {@code max_staleness} is
 * unbounded unless given (every update is heard, weighted by s(τ_w), as in the paper), while the models kept
 * stay {@code history} versions (16; the memory bound): under model mixing an update whose base is older than
 * those is mixed as {@code mixing: delta} would, θ ← θ + αₜ·δ, dropping only the αₜ·(θ_base − θ) term that
 * needs the lost model. Under the version clock {@code history} is {@code max_staleness} (16), so every
 * admitted base is kept.
 */
final class FedAsyncStrategy extends BaseStrategy {
    private static final String HISTORY = "history/";

    private final double alpha;
    private final boolean scaleAlpha;
    private final ConcurrencyEstimate concurrency = new ConcurrencyEstimate();
    private final StalenessFunction staleness;
    private final boolean modelMixing;
    private final double examplesFloor;
    /** Σn and Σn² over the updates merged so far (exported with the state: a replay reaches the same r). */
    private final ExampleSums sums = new ExampleSums();
    /** Staleness in workers; null when it is counted in versions. */
    private final WorkerClock workers;
    /** Versions whose models are kept before the current one (model mixing). */
    private final long historySize;
    /** Models of versions before the current one that a stale update may be based on (model mixing only). */
    private final NavigableMap<Long, TensorMap> history = new TreeMap<>();

    FedAsyncStrategy(TensorMap initialModel, long maxStaleness, double alpha, boolean scaleAlpha,
            StalenessFunction staleness, boolean modelMixing, double examplesFloor, boolean workerClock, long historySize) {
        super("fedasync", initialModel, maxStaleness);
        this.historySize = historySize;
        this.workers = workerClock ? new WorkerClock() : null;
        this.examplesFloor = examplesFloor;
        this.alpha = alpha;
        this.scaleAlpha = scaleAlpha;
        this.staleness = staleness;
        this.modelMixing = modelMixing;
    }

    @Override
    public Decision onUpdate(Update u) {
        long versions = version() - u.baseVersion();
        long tau = workers == null || versions <= 0 ? versions : workers.staleness(u.baseVersion());
        Refused refused = admit(u, model().names(), model(), false, tau);
        if (refused != null) {
            return refused;
        }
        double c = concurrency.value();
        double rate = scaleAlpha && !Double.isNaN(c) ? Math.min(alpha, 1 / c) : alpha;
        double sum = sums.sum(u.examples());
        double squares = sums.squares((double) u.examples() * u.examples());
        double a = Math.min(1, rate * staleness.weight(tau) * examplesFactor(u.examples(), sum, squares));
        TensorMap next;
        TensorMap base = null;
        if (modelMixing) {
            base = versions == 0 ? model() : history.get(u.baseVersion());
            if (base == null && workers != null) {
                next = TensorOps.addScaled(model(), a, u.delta());
            } else if (base == null) {
                return new Refused("update " + u.id() + ": the model of base version " + u.baseVersion()
                        + " is no longer kept", Refused.STALENESS);
            } else {
                next = TensorOps.mix(model(), base, u.delta(), a);
            }
        } else {
            next = TensorOps.addScaled(model(), a, u.delta());
        }
        Refused overflow = nonFinite("update " + u.id(), next);
        if (overflow != null) {
            return overflow;
        }
        if (modelMixing) {
            history.put(version(), model());
        }
        concurrency.published(List.of(u), version());
        sums.merged(sum, squares);
        publish(next);
        if (workers != null) {
            workers.published(u, version());
        }
        history.headMap(version() - historySize, false).clear();
        return new Published(version(), List.of(u.id()), averageMetrics(List.of(u)));
    }

    /** min(1, n/(φ·r)), r = Σn²/Σn; 1 when the floor is off or the update reports no examples. */
    private double examplesFactor(long examples, double sum, double squares) {
        double floor = ExampleSums.floor(examplesFloor, sum, squares);
        return examples > 0 && !Double.isNaN(floor) ? Math.min(1, examples / floor) : 1;
    }

    @Override
    void writeState(TensorMap state) {
        history.forEach((v, m) -> nest(HISTORY + v + "/", m, state));
        concurrency.write(state);
        sums.write(state);
        if (workers != null) {
            workers.write(state);
        }
    }

    @Override
    void readState(TensorMap state, long version) {
        NavigableMap<Long, TensorMap> restored = new TreeMap<>();
        for (String name : state.names()) {
            int slash = name.startsWith(HISTORY) ? name.indexOf('/', HISTORY.length()) : -1;
            long v = slash < 0 ? -1 : parseVersion(name.substring(HISTORY.length(), slash));
            if (v < 0) {
                throw new IllegalArgumentException("fedasync state: tensor " + name + " is not history/<version>/<name>");
            }
            restored.computeIfAbsent(v, x -> new TensorMap())
                    .put(name.substring(slash + 1), state.tensor(name));
        }
        if (!modelMixing && !restored.isEmpty()) {
            throw new IllegalArgumentException("fedasync state: holds model history but mixing is delta");
        }
        for (Map.Entry<Long, TensorMap> e : restored.entrySet()) {
            long v = e.getKey();
            if (v >= version) {
                throw new IllegalArgumentException("fedasync state: history version " + v + " is not before version "
                        + version);
            }
            checkLayout("fedasync state: history version " + v, e.getValue());
            e.setValue(TensorOps.copy(e.getValue()));
        }
        // A state exported under a larger history keeps more models than this configuration uses.
        restored.headMap(version - historySize, false).clear();
        if (workers != null) {
            workers.read(state, version); // checks all before the rest changes anything
        }
        concurrency.read(state, version);
        sums.read(state, "fedasync");
        history.clear();
        history.putAll(restored);
    }

    private static long parseVersion(String s) {
        return s.matches("\\d{1,18}") ? Long.parseLong(s) : -1;
    }
}
