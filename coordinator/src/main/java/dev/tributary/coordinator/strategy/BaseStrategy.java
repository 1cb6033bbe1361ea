package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What every strategy shares: the published model and version, the checks every update goes through
 * (future base, staleness bound, fit to the model, usable weight), the metrics average, and the envelope
 * of the exported state.
 */
abstract class BaseStrategy implements Strategy {
    static final String META_STRATEGY = "strategy";
    static final String META_FORMAT = "state_format";
    static final String FORMAT = "1";

    private final String name;
    private final List<TensorInfo> layout;
    private final long maxStaleness;
    private TensorMap model;
    private long version;

    BaseStrategy(String name, TensorMap initialModel, long maxStaleness) {
        TensorOps.checkModel("initial model", initialModel);
        this.name = name;
        this.layout = initialModel.infos();
        this.maxStaleness = maxStaleness;
        this.model = TensorOps.copy(initialModel);
    }

    /** Writes the strategy's own state (besides the model) into {@code state}. */
    abstract void writeState(TensorMap state);

    /**
     * Reads what {@link #writeState} wrote for a model at {@code version} and drops anything buffered; checks
     * everything before changing anything.
     */
    abstract void readState(TensorMap state, long version);

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final TensorMap model() {
        return model;
    }

    @Override
    public final long version() {
        return version;
    }

    final long maxStaleness() {
        return maxStaleness;
    }

    /** Makes {@code next} the model, one version on. */
    final void publish(TensorMap next) {
        model = next;
        version++;
    }

    /**
     * The refusal every strategy applies, or null: base newer than the model, τ beyond the bound, a delta
     * that does not fit the model on {@code required}, no examples where examples are the weight.
     */
    final Refused admit(Update u, Collection<String> required, boolean weightByExamples) {
        return admit(u, required, model, weightByExamples);
    }

    /** As {@link #admit(Update, Collection, boolean)}, the delta's shapes checked against {@code layout}. */
    final Refused admit(Update u, Collection<String> required, TensorMap layout, boolean weightByExamples) {
        return admit(u, required, layout, weightByExamples, version - u.baseVersion());
    }

    /** As {@link #admit(Update, Collection, TensorMap, boolean)}, with staleness {@code tau} as the strategy counts it. */
    final Refused admit(Update u, Collection<String> required, TensorMap layout, boolean weightByExamples, long tau) {
        if (u.baseVersion() > version) {
            return new Refused("update " + u.id() + ": base version " + u.baseVersion() + " > current version " + version,
                    Refused.FUTURE_VERSION);
        }
        if (tau > maxStaleness) {
            String unit = tau == version - u.baseVersion() ? "" : " (workers merged since base version " + u.baseVersion() + ")";
            return new Refused("staleness " + tau + unit + " > max " + maxStaleness, Refused.STALENESS);
        }
        String misfit = TensorOps.misfit(layout, u.delta(), required);
        if (misfit != null) {
            return new Refused("update " + u.id() + ": " + misfit, Refused.INVALID);
        }
        if (weightByExamples && u.examples() == 0) {
            return new Refused("update " + u.id() + ": examples 0, example-weighted aggregation needs >= 1",
                    Refused.INVALID);
        }
        return null;
    }

    /**
     * A refusal when {@code next} holds a value that is not finite (an overflow of finite inputs), else null:
     * a published model is always finite.
     */
    static Refused nonFinite(String what, TensorMap next) {
        for (String n : next.names()) {
            dev.tributary.tensor.Tensor t = next.tensor(n);
            if (!Double.isFinite(dev.tributary.tensor.Kernels.l2Norm(t.data(), t.numel()))) {
                return new Refused(what + ": taking it in would make tensor " + n
                        + " of the model non-finite", Refused.NON_FINITE_MODEL);
            }
        }
        return null;
    }

    /** Flower's weighted_loss_avg per metric: Σ nᵢmᵢ / Σ nᵢ over the updates reporting it (plain mean if Σ nᵢ = 0). */
    static Map<String, Double> averageMetrics(List<Update> updates) {
        Map<String, double[]> acc = new TreeMap<>(); // Σ n·m, Σ n, Σ m, count
        for (Update u : updates) {
            u.metrics().forEach((k, v) -> {
                double[] s = acc.computeIfAbsent(k, x -> new double[4]);
                s[0] += u.examples() * v;
                s[1] += u.examples();
                s[2] += v;
                s[3] += 1;
            });
        }
        Map<String, Double> out = new TreeMap<>();
        acc.forEach((k, s) -> out.put(k, s[1] > 0 ? s[0] / s[1] : s[2] / s[3]));
        return out;
    }

    static List<String> ids(List<Update> updates) {
        return updates.stream().map(Update::id).toList();
    }

    @Override
    public final TensorMap exportState() {
        TensorMap state = new TensorMap();
        state.putMetadata(META_STRATEGY, name).putMetadata(META_FORMAT, FORMAT);
        writeState(state);
        return state;
    }

    @Override
    public final void restoreState(TensorMap restoredModel, long restoredVersion, TensorMap state) {
        String owner = state.metadata().get(META_STRATEGY);
        if (!name.equals(owner)) {
            throw new IllegalArgumentException("state of strategy \"" + owner + "\" cannot restore strategy " + name);
        }
        String format = state.metadata().get(META_FORMAT);
        if (!FORMAT.equals(format)) {
            throw new IllegalArgumentException("strategy state format \"" + format + "\" is not supported (expected "
                    + FORMAT + ")");
        }
        if (restoredVersion < 0) {
            throw new IllegalArgumentException("restored version < 0: " + restoredVersion);
        }
        checkLayout("restored model", restoredModel);
        readState(state, restoredVersion);
        model = TensorOps.copy(restoredModel);
        version = restoredVersion;
    }

    /** Refuses a map whose names, dtypes or shapes differ from the initial model's. */
    final void checkLayout(String what, TensorMap m) {
        TensorOps.checkModel(what, m);
        for (TensorInfo info : layout) {
            Tensor t = m.get(info.name());
            if (t == null) {
                throw new IllegalArgumentException(what + ": lacks tensor " + info.name());
            }
            if (!Shapes.same(t.shape(), info.shape())) {
                throw new IllegalArgumentException(what + ": tensor " + info.name() + " shape "
                        + Shapes.toString(t.shape()) + " != " + Shapes.toString(info.shape()));
            }
        }
        if (m.size() != layout.size()) {
            throw new IllegalArgumentException(what + ": has " + m.size() + " tensors, the model has " + layout.size());
        }
    }

    /** Copies {@code inner}'s tensors and metadata into {@code outer} under {@code prefix}. */
    static void nest(String prefix, TensorMap inner, TensorMap outer) {
        inner.names().forEach(n -> outer.put(prefix + n, inner.tensor(n)));
        inner.metadata().forEach((k, v) -> outer.putMetadata(prefix + k, v));
    }

    /** The tensors and metadata of {@code outer} under {@code prefix}, with the prefix removed. */
    static TensorMap unnest(String prefix, TensorMap outer) {
        TensorMap inner = new TensorMap();
        outer.names().stream().filter(n -> n.startsWith(prefix))
                .forEach(n -> inner.put(n.substring(prefix.length()), outer.tensor(n)));
        outer.metadata().forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                inner.putMetadata(k.substring(prefix.length()), v);
            }
        });
        return inner;
    }
}
