package dev.tributary.coordinator.strategy;

import dev.tributary.coordinator.optimizer.ServerOptimizer;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * FedBuff (Nguyen et al., AISTATS 2022): every admitted update goes into a buffer with weight
 * {@code examples × s(τ)} (τ at arrival; {@code weighting: uniform} drops the examples); when the buffer
 * holds K updates the aggregator combines them (the weighted mean Σwₖδₖ/Σwₖ by default, or
 * {@code aggregator: sum} for the paper's Σwₖδₖ), the server optimizer takes one step on that Δ, and the
 * result is published. With the default SGD at lr 1 a publish adds the weighted mean delta to the model.
 *
 * <p>{@link Sizing} says how K and the step follow the population (docs/ASYNC.md): by default K is half
 * the observed concurrency Ĉ ({@link ConcurrencyEstimate}) and the aggregate is scaled by K/Ĉ before the
 * server optimizer, so that Ĉ updates (one round of every client in training) move the model about as far
 * as one FedAvg round over them. Both follow the updates merged only, and are recomputed at each publish.
 */
final class FedBuffStrategy extends BaseStrategy {
    /**
     * How the buffer and the step are sized.
     *
     * @param fixedBuffer   K when given (0: K = round(fraction·Ĉ), within [1, maxBuffer])
     * @param fraction      K / Ĉ when the buffer follows the concurrency
     * @param initialBuffer K before the first publish, when the buffer follows the concurrency
     * @param maxBuffer     the largest K the rule picks
     * @param scaleStep     scale the aggregate by K/Ĉ (capped at 1; {@code fraction} before Ĉ is known)
     */
    record Sizing(int fixedBuffer, double fraction, int initialBuffer, int maxBuffer, boolean scaleStep) {
        static Sizing fixed(int k) {
            return new Sizing(k, 0.5, k, k, false);
        }

        int buffer(double concurrency) {
            if (fixedBuffer > 0) {
                return fixedBuffer;
            }
            if (Double.isNaN(concurrency)) {
                return initialBuffer;
            }
            return (int) Math.max(1, Math.min(maxBuffer, Math.round(fraction * concurrency)));
        }

        double step(int k, double concurrency) {
            return Double.isNaN(concurrency) ? fraction : Math.min(1, k / concurrency);
        }
    }

    private final Sizing sizing;
    private final ConcurrencyEstimate concurrency = new ConcurrencyEstimate();
    private int bufferSize;
    private final StalenessFunction staleness;
    private final boolean weightByExamples;
    private final Aggregator aggregator;
    private final Supplier<ServerOptimizer> optimizerFactory;
    private ServerOptimizer optimizer;
    private final List<Update> pending = new ArrayList<>();
    private final List<Aggregator.Input> inputs = new ArrayList<>();
    private final Set<String> pendingIds = new HashSet<>();

    FedBuffStrategy(TensorMap initialModel, long maxStaleness, Sizing sizing, StalenessFunction staleness,
            boolean weightByExamples, Aggregator aggregator, Supplier<ServerOptimizer> optimizer) {
        super("fedbuff", initialModel, maxStaleness);
        this.sizing = sizing;
        this.bufferSize = sizing.buffer(Double.NaN);
        this.staleness = staleness;
        this.weightByExamples = weightByExamples;
        this.aggregator = aggregator;
        this.optimizerFactory = optimizer;
        this.optimizer = optimizer.get();
    }

    @Override
    public Decision onUpdate(Update u) {
        Refused refused = admit(u, model().names(), weightByExamples);
        if (refused != null) {
            return refused;
        }
        long tau = version() - u.baseVersion();
        double weight = (weightByExamples ? u.examples() : 1) * staleness.weight(tau);
        if (!(weight > 0) || !Double.isFinite(weight)) {
            return new Refused("update " + u.id() + ": weight " + weight + " at staleness " + tau
                    + " is not finite and > 0", Refused.INVALID);
        }
        if (!pendingIds.add(u.id())) {
            return new Refused("update " + u.id() + ": already buffered", Refused.DUPLICATE);
        }
        pending.add(u);
        inputs.add(new Aggregator.Input(u.id(), u.delta(), weight));
        if (pending.size() < bufferSize) {
            return new Buffered(pending.size(), bufferSize);
        }
        TensorMap saved = optimizer.exportState();
        TensorMap delta = aggregator.aggregate(model(), inputs);
        if (sizing.scaleStep()) {
            float scale = (float) sizing.step(bufferSize, concurrency.value());
            delta = TensorOps.weightedSum(delta, List.of(delta), new float[] {scale});
        }
        TensorMap next = optimizer.step(model(), delta);
        Refused overflow = nonFinite("update " + u.id(), next);
        if (overflow != null) {
            optimizer = optimizerFactory.get();
            optimizer.restoreState(saved);
            pending.removeLast();
            inputs.removeLast();
            pendingIds.remove(u.id());
            return overflow;
        }
        List<Update> merged = List.copyOf(pending);
        concurrency.published(merged, version());
        bufferSize = sizing.buffer(concurrency.value());
        publish(next);
        pending.clear();
        inputs.clear();
        pendingIds.clear();
        return new Published(version(), ids(merged), averageMetrics(merged));
    }

    @Override
    public int needed() {
        return bufferSize;
    }

    @Override
    public List<Update> pending() {
        return List.copyOf(pending);
    }

    @Override
    public void adopt(List<Update> held) {
        for (Update u : held) {
            long tau = Math.max(0, version() - u.baseVersion());
            double weight = (weightByExamples ? u.examples() : 1) * staleness.weight(tau);
            if (!(weight > 0) || !Double.isFinite(weight)) {
                weight = Double.MIN_NORMAL; // accepted before: kept, with the least weight this configuration allows
            }
            if (pendingIds.add(u.id())) {
                pending.add(u);
                inputs.add(new Aggregator.Input(u.id(), u.delta(), weight));
            }
        }
    }

    @Override
    void writeState(TensorMap state) {
        nest("optimizer/", optimizer.exportState(), state);
        concurrency.write(state);
    }

    /** The observed concurrency (NaN before the first publish). */
    double concurrency() {
        return concurrency.value();
    }

    @Override
    void readState(TensorMap state, long version) {
        ServerOptimizer restored = optimizerFactory.get();
        restored.restoreState(unnest("optimizer/", state));
        concurrency.read(state, version);
        bufferSize = sizing.buffer(concurrency.value());
        optimizer = restored;
        pending.clear();
        inputs.clear();
        pendingIds.clear();
    }
}
