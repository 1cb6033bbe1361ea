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
 * The mean and the sum are computed as the updates come, from a running weighted mean (one model of memory
 * however large the buffer; {@link #keepsDeltas} is false); merge-method aggregators keep the deltas to the
 * publish.
 *
 * <p>{@link Sizing} says how K and the step follow the population (docs/ASYNC.md): by default K is half
 * the observed concurrency Ĉ ({@link ConcurrencyEstimate}) and the aggregate is scaled by K/Ĉ before the
 * server optimizer, so that Ĉ updates (one round of every client in training) move the model about as far
 * as one FedAvg round over them. Both follow the updates merged only, and are recomputed at each publish.
 *
 * <p>With {@code examples_floor} φ > 0 (0.1 with {@code buffer_size: auto}, 0 with a fixed one) the examples
 * weights also count across buffers, not only within one: a buffer steps min(1, m / (φ·r)) as far, m = Σwₖnₖ/Σwₖ
 * its weight-averaged update size and r = Σn²/Σn the examples-weighted mean size of the updates merged so
 * far; and the buffer fills when its updates count K, each counting min(1, n/(φ·r)) (at most max(K,
 * max_buffer_size) updates are held). A client with a handful of examples finishes its epochs at once: it
 * would fill whole buffers alone, the weighted mean inside such a buffer giving its delta a full step many
 * times a second, and crowd the other clients' updates out of the rest (docs/ASYNC.md).
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
    /** The aggregator is the weighted mean or sum: held deltas are folded into {@link #mean} as they come. */
    private final boolean streamed;
    private final boolean normalize;
    private final Supplier<ServerOptimizer> optimizerFactory;
    private ServerOptimizer optimizer;
    private final double examplesFloor;
    /** Σn and Σn² over the updates merged so far (exported with the state: a replay reaches the same r). */
    private final ExampleSums sums = new ExampleSums();
    /** The updates held towards the next publish (without their deltas when streamed). */
    private final List<Update> pending = new ArrayList<>();
    /** Not streamed: what the aggregator combines at the publish (the deltas are kept until then). */
    private final List<Aggregator.Input> inputs = new ArrayList<>();
    /** Streamed: Σwₖδₖ/Σwₖ over the held updates (its memory reused from buffer to buffer). */
    private TensorMap mean;
    /** Over the held updates, kept as they come: Σwₖ, Σwₖnₖ, Σnₖ and Σnₖ². */
    private double weightSum;
    /** Σpₖ and Σpₖ² of the held updates' participation weights alone (their effective count). */
    private double participationSum;
    private double participationSquares;
    private double weightedExamples;
    private double heldExamples;
    private double heldSquares;
    private final Set<String> pendingIds = new HashSet<>();
    /** FedAU-style weights by participation interval; null when off. */
    private final ParticipationWeights participation;

    /**
     * @param examplesFloor φ of the buffer's examples factor (0: off; it needs {@code weightByExamples})
     * @param participation FedAU-style weights by worker, or null for none
     */
    FedBuffStrategy(TensorMap initialModel, long maxStaleness, Sizing sizing, StalenessFunction staleness,
            boolean weightByExamples, double examplesFloor, ParticipationWeights participation, Aggregator aggregator,
            Supplier<ServerOptimizer> optimizer) {
        super("fedbuff", initialModel, maxStaleness);
        this.participation = participation;
        this.sizing = sizing;
        this.examplesFloor = weightByExamples ? examplesFloor : 0;
        this.bufferSize = sizing.buffer(Double.NaN);
        this.staleness = staleness;
        this.weightByExamples = weightByExamples;
        this.aggregator = aggregator;
        this.streamed = Aggregator.streams(aggregator.name());
        this.normalize = aggregator.name().equals("mean");
        this.optimizerFactory = optimizer;
        this.optimizer = optimizer.get();
    }

    /**
     * False with the mean or sum aggregator: each delta is folded into a running weighted mean when it comes
     * in and not read again, so the service may give its buffer back at once. A buffer of K updates then
     * costs one model of memory, not K (the receive budget bounds only the updates arriving).
     */
    @Override
    public boolean keepsDeltas() {
        return !streamed;
    }

    @Override
    public Decision onUpdate(Update u) {
        Refused refused = admit(u, model().names(), weightByExamples);
        if (refused != null) {
            return refused;
        }
        long tau = version() - u.baseVersion();
        double weight = weight(u, tau);
        if (!(weight > 0) || !Double.isFinite(weight)) {
            return new Refused("update " + u.id() + ": weight " + weight + " at staleness " + tau
                    + " is not finite and > 0", Refused.INVALID);
        }
        if (pendingIds.contains(u.id())) {
            return new Refused("update " + u.id() + ": already buffered", Refused.DUPLICATE);
        }
        double sum = sums.sum(heldExamples + u.examples());
        double squares = sums.squares(heldSquares + (double) u.examples() * u.examples());
        int held = pending.size() + 1;
        double filled = participation != null ? effective(participation.weight(u.worker()))
                : filled(sum, squares, u.examples());
        if (filled < bufferSize && held < Math.max(bufferSize, sizing.maxBuffer())) {
            hold(u, weight);
            return new Buffered(held, bufferSize);
        }
        double scale = sizing.scaleStep() ? sizing.step(bufferSize, concurrency.value()) : 1;
        if (examplesFloor > 0) {
            scale *= examplesFactor(sum, squares, u.examples(), weight);
        }
        TensorMap delta;
        if (streamed) {
            // One pass over the running mean and the last delta, into fresh memory: the mean stays as it was
            // should the step overflow and this update be refused.
            double norm = normalize ? weightSum + weight : 1;
            delta = mix(null, scale * weightSum / norm, u.delta(), scale * weight / norm);
        } else {
            List<Aggregator.Input> all = new ArrayList<>(inputs);
            all.add(new Aggregator.Input(u.id(), u.delta(), weight));
            delta = aggregator.aggregate(model(), all);
            if (scale != 1) {
                delta = TensorOps.weightedSum(delta, List.of(delta), new float[] {(float) scale});
            }
        }
        TensorMap saved = optimizer.exportState();
        TensorMap next = optimizer.step(model(), delta);
        Refused overflow = nonFinite("update " + u.id(), next);
        if (overflow != null) {
            optimizer = optimizerFactory.get();
            optimizer.restoreState(saved);
            return overflow;
        }
        List<Update> merged = new ArrayList<>(pending);
        merged.add(u);
        sums.merged(sum, squares);
        if (participation != null) {
            participation.published(merged);
        }
        concurrency.published(merged, version());
        bufferSize = sizing.buffer(concurrency.value());
        publish(next);
        clearHeld();
        return new Published(version(), ids(merged), averageMetrics(merged));
    }

    /**
     * examples × s(τ) (× the participation weight when on): the weights only change at publishes, so an
     * update weighs the same when it comes and when a restart adopts it.
     */
    private double weight(Update u, long tau) {
        double w = (weightByExamples ? u.examples() : 1) * staleness.weight(tau);
        return participation == null ? w : w * participation.weight(u.worker());
    }

    /** Takes {@code u} into the buffer: its delta folded into the running mean when streamed, else kept. */
    private void hold(Update u, double weight) {
        pendingIds.add(u.id());
        double total = weightSum + weight;
        if (streamed) {
            // The mean of k+1 as a convex mix of the mean of k and the new delta: no coefficient above 1, so the
            // running value stays within the deltas' range whatever the weights (a sum could overflow f32).
            mean = mix(mean, weightSum / total, u.delta(), weight / total);
            pending.add(u.withoutDelta());
        } else {
            pending.add(u);
            inputs.add(new Aggregator.Input(u.id(), u.delta(), weight));
        }
        weightSum = total;
        if (participation != null) {
            double p = participation.weight(u.worker());
            participationSum += p;
            participationSquares += p * p;
        }
        weightedExamples += weight * u.examples();
        heldExamples += u.examples();
        heldSquares += (double) u.examples() * u.examples();
    }

    /**
     * a·μ + b·δ, or b·δ alone while the buffer holds nothing (μ is then a past buffer's, or none), into
     * {@code into} in place, or into fresh memory when it is null.
     */
    private TensorMap mix(TensorMap into, double a, TensorMap delta, double b) {
        boolean alone = pending.isEmpty();
        List<TensorMap> terms = alone ? List.of(delta) : List.of(mean, delta);
        float[] c = alone ? new float[] {(float) b} : new float[] {(float) a, (float) b};
        if (into == null) {
            return TensorOps.weightedSum(model(), terms, c);
        }
        TensorOps.weightedSumInto(into, terms, c);
        return into;
    }

    private void clearHeld() {
        pending.clear();
        inputs.clear();
        pendingIds.clear();
        participationSum = 0;
        participationSquares = 0;
        weightSum = 0; // the mean's memory is overwritten by the next buffer's first update
        weightedExamples = 0;
        heldExamples = 0;
        heldSquares = 0;
    }

    /**
     * How full the buffer would be with one more update of {@code examples}, in updates: each counts
     * min(1, n / (φ·r)) under the examples floor (a client with a handful of examples can push hundreds of
     * updates while the others push one: K counts the updates that carry the buffer's weight, so that they are
     * not crowded out), 1 without it.
     */
    private double filled(double sum, double squares, long examples) {
        double floor = ExampleSums.floor(examplesFloor, sum, squares);
        if (Double.isNaN(floor)) {
            return pending.size() + 1;
        }
        double n = Math.min(1, examples / floor);
        for (Update p : pending) {
            n += Math.min(1, p.examples() / floor);
        }
        return n;
    }

    /**
     * Under participation weights, the effective number of updates in the buffer with one more whose
     * participation weight is {@code p}, (Σp)²/Σp² (Kish): a buffer whose participation weight sits in one
     * update is a buffer of one, whatever it holds. K counts these. The examples and staleness factors stay
     * out of the count, as they do without participation weights: counting them too made K wait for
     * several times more updates under label skew, where shards differ in size (docs/ASYNC.md).
     */
    private double effective(double p) {
        double total = participationSum + p;
        return total * total / (participationSquares + p * p);
    }

    /**
     * min(1, m / (φ·r)): m = Σwₖnₖ/Σwₖ, the examples of the update an average unit of the buffer's weight sits
     * in (so a typical update that dominates the mean keeps m typical however many tiny ones share its
     * buffer), r = Σn²/Σn the same over the updates merged so far and this buffer's, the last of which has
     * {@code examples} and {@code weight}.
     */
    private double examplesFactor(double sum, double squares, long examples, double weight) {
        double total = weightSum + weight;
        double weighted = weightedExamples + weight * examples;
        double floor = ExampleSums.floor(examplesFloor, sum, squares);
        return total > 0 && !Double.isNaN(floor) ? Math.min(1, weighted / total / floor) : 1;
    }

    @Override
    public int needed() {
        return bufferSize;
    }

    @Override
    public int held() {
        return pending.size();
    }

    @Override
    public void adopt(List<Update> held) {
        for (Update u : held) {
            double weight = weight(u, Math.max(0, version() - u.baseVersion()));
            if (!(weight > 0) || !Double.isFinite(weight)) {
                weight = Double.MIN_NORMAL; // accepted before: kept, with the least weight this configuration allows
            }
            if (!pendingIds.contains(u.id())) {
                hold(u, weight);
            }
        }
    }

    @Override
    void writeState(TensorMap state) {
        nest("optimizer/", optimizer.exportState(), state);
        concurrency.write(state);
        sums.write(state);
        if (participation != null) {
            participation.write(state);
        }
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
        sums.read(state, "fedbuff");
        if (participation != null) {
            participation.read(state);
        }
        bufferSize = sizing.buffer(concurrency.value());
        optimizer = restored;
        clearHeld();
    }
}
