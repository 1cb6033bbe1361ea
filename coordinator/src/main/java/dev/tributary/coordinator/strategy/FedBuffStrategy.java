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
 */
final class FedBuffStrategy extends BaseStrategy {
    private final int bufferSize;
    private final StalenessFunction staleness;
    private final boolean weightByExamples;
    private final Aggregator aggregator;
    private final Supplier<ServerOptimizer> optimizerFactory;
    private ServerOptimizer optimizer;
    private final List<Update> pending = new ArrayList<>();
    private final List<Aggregator.Input> inputs = new ArrayList<>();
    private final Set<String> pendingIds = new HashSet<>();

    FedBuffStrategy(TensorMap initialModel, long maxStaleness, int bufferSize, StalenessFunction staleness,
            boolean weightByExamples, Aggregator aggregator, Supplier<ServerOptimizer> optimizer) {
        super("fedbuff", initialModel, maxStaleness);
        this.bufferSize = bufferSize;
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
    }

    @Override
    void readState(TensorMap state, long version) {
        ServerOptimizer restored = optimizerFactory.get();
        restored.restoreState(unnest("optimizer/", state));
        optimizer = restored;
        pending.clear();
        inputs.clear();
        pendingIds.clear();
    }
}
