package dev.tributary.coordinator.strategy;

import dev.tributary.coordinator.optimizer.ServerOptimizer;
import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Creates strategies by name from a configuration map (YAML-shaped: numbers, strings, booleans, maps).
 * Every key is checked; unknown keys are errors. Keys, with defaults:
 *
 * <ul>
 *   <li>{@code fedavg}: synchronous rounds, Flower's FedAvg. {@code min_workers} 2; {@code workers} (the
 *       population) and {@code fraction} 1.0: a round expects max(min_workers, ⌊fraction·workers⌋) updates
 *       as Flower samples (min_workers without workers); {@code round_deadline_s} (none): after it a round closes with
 *       min_workers updates; {@code weighting} examples; {@code aggregator} mean; {@code optimizer} sgd lr 1
 *       (plain FedAvg; momentum, adam, yogi, adagrad give FedAvgM, FedAdam, FedYogi, FedAdagrad).</li>
 *   <li>{@code fedasync}: {@code alpha} 0.9; {@code alpha_scale} auto (αₜ = min(α, 1/Ĉ)·s(τ), Ĉ the observed
 *       concurrency; the default unless alpha is given) or none (αₜ = α·s(τ), Xie et al. as published); {@code staleness} polynomial a 0.5 (constant, hinge a 1 b 10);
 *       {@code mixing} model (or delta); {@code max_staleness} 16 with model mixing under the version clock,
 *       else unbounded; {@code history} (models kept for model mixing) max_staleness where that is finite under
 *       the version clock, else 16; {@code examples_floor} 0.1
 *       with alpha_scale auto, else 0 (an update of fewer examples than that share of the mean update's
 *       mixes in proportionally less); {@code staleness_clock} workers with alpha_scale auto, else versions
 *       (τ counts the distinct workers merged since the base, or the versions).</li>
 *   <li>{@code fedbuff}: {@code buffer_size} auto (K = round(buffer_fraction·Ĉ) within [1, max_buffer_size],
 *       recomputed at each publish; initial_buffer_size before the first) or a number; {@code buffer_fraction}
 *       0.5; {@code initial_buffer_size} 10; {@code max_buffer_size} 1000; {@code step_scale} auto (the
 *       aggregate times K/Ĉ, at most 1; the default with buffer_size auto) or none (the default with a fixed
 *       buffer_size, FedBuff's and FLSim's formulas as published); {@code staleness} polynomial a 0.5 (1/√(1+τ));
 *       {@code weighting} examples; {@code examples_floor} 0.1 with buffer_size auto, else 0 (a buffer whose
 *       updates hold fewer examples than that share of the mean update's steps proportionally less);
 *       {@code participation_weights} none (or fedau: each update also weighed by its worker's mean
 *       participation interval, {@link ParticipationWeights}) with {@code participation_cap} 10;
 *       {@code aggregator} mean (or sum); {@code optimizer} sgd lr 1. See docs/ASYNC.md.</li>
 *   <li>{@code diloco}: {@code workers} 2 (the updates each outer step waits for); {@code min_workers} =
 *       workers and {@code round_deadline_s} as for fedavg; {@code fragments} 1 (Streaming DiLoCo when more);
 *       {@code fragment_split} elements (fragments of about equal elements, cut inside tensors where needed)
 *       or tensors (whole tensors, see {@link dev.tributary.tensor.Fragments});
 *       {@code weighting} uniform; {@code aggregator} mean; {@code optimizer} momentum lr 0.7, momentum 0.9,
 *       nesterov true. Handed to the workers ({@link InnerLoop}): {@code inner_steps} 500 (H);
 *       {@code mixing_alpha} 0; {@code sync_delay} 0; {@code inner_optimizer} adamw lr 4e-4,
 *       weight_decay 0.1, beta1 0.9, beta2 0.95, eps 1e-8 (or sgd lr 0.01, momentum 0, weight_decay 0).</li>
 * </ul>
 *
 * All take {@code max_staleness} (unbounded unless said otherwise), and all but fedasync take
 * {@code aggregator_params} for a merge-method aggregator. {@code optimizer} is a name or a map
 * {@code {name, lr, momentum, nesterov, beta1, beta2, tau}}; {@code staleness} a name or a map
 * {@code {name, a, b, avg_staleness}}.
 */
public final class Strategies {
    /** The names {@link #create} knows. */
    public static final List<String> NAMES = List.of("fedavg", "fedasync", "fedbuff", "diloco");
    /**
     * NoLoCo: no update is pushed; workers exchange outer states with a peer through the coordinator's
     * {@code PeerRelay} service ({@link NoLoCoRelay}). Not in {@link #NAMES}: it has no merge of its own.
     */
    public static final String NOLOCO = "noloco";

    private Strategies() {}

    /**
     * A new strategy at version 0 over a copy of {@code initialModel} (f32 tensors only).
     *
     * @throws IllegalArgumentException naming the key and the rule for a bad configuration, or the tensor
     *                                  for a model strategies cannot use
     */
    public static Strategy create(String name, Map<String, Object> config, TensorMap initialModel) {
        Config c = new Config(String.valueOf(name), config);
        TensorOps.checkModel("initial model", initialModel);
        Strategy s = switch (String.valueOf(name)) {
            case "fedavg" -> fedavg(c, initialModel);
            case "fedasync" -> fedasync(c, initialModel);
            case "fedbuff" -> fedbuff(c, initialModel);
            case "diloco" -> diloco(c, initialModel);
            case NOLOCO -> new NoLoCoStrategy(NoLoCoRelay.create(config, initialModel), initialModel);
            default -> throw new IllegalArgumentException("strategy: unknown name \"" + name + "\" (expected "
                    + String.join(", ", NAMES) + ")");
        };
        if (!(s instanceof NoLoCoStrategy)) {
            c.finish();
        }
        return s;
    }

    /**
     * The relay of a NoLoCo coordinator's configuration (its keys are checked by {@link #create} with name
     * {@value #NOLOCO}; see {@link NoLoCoRelay}).
     */
    public static NoLoCoRelay relay(Map<String, Object> config, TensorMap initialModel) {
        return NoLoCoRelay.create(config, initialModel);
    }

    /**
     * The same strategy under another configuration, carrying everything over: model, version, optimizer
     * state, and the updates held towards the next publish (as accepted, not judged again).
     *
     * @param held the updates {@code current} accepted since its last publish, in order and with their deltas
     *     (a strategy need not keep them: the service reads them back from its log)
     * @throws IllegalArgumentException when the configuration is invalid or its state does not carry over
     *     (another optimizer, other fragments), or {@code held} is not what {@code current} holds
     */
    public static Strategy reconfigure(Strategy current, Map<String, Object> config, List<Update> held) {
        if (held.size() != current.held()) {
            throw new IllegalArgumentException(current.name() + " holds " + current.held() + " updates, "
                    + held.size() + " were handed over");
        }
        Strategy next = create(current.name(), config, current.model());
        next.restoreState(current.model(), current.version(), current.exportState());
        next.adopt(held);
        return next;
    }

    /** A configuration map as canonical YAML (keys sorted at every level), to log and to compare. */
    public static String canonical(Map<String, Object> config) {
        org.yaml.snakeyaml.DumperOptions o = new org.yaml.snakeyaml.DumperOptions();
        o.setDefaultFlowStyle(org.yaml.snakeyaml.DumperOptions.FlowStyle.FLOW);
        o.setWidth(Integer.MAX_VALUE);
        return new org.yaml.snakeyaml.Yaml(o).dump(sorted(config)).strip();
    }

    /** Reads back what {@link #canonical} wrote. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseCanonical(String yaml) {
        Object o = new org.yaml.snakeyaml.Yaml(new org.yaml.snakeyaml.constructor.SafeConstructor(
                new org.yaml.snakeyaml.LoaderOptions())).load(yaml);
        if (!(o instanceof Map<?, ?> m)) {
            throw new IllegalArgumentException("strategy configuration \"" + yaml + "\" is not a map");
        }
        return (Map<String, Object>) m;
    }

    private static Object sorted(Object v) {
        if (v instanceof Map<?, ?> m) {
            java.util.TreeMap<String, Object> out = new java.util.TreeMap<>();
            m.forEach((k, x) -> out.put(String.valueOf(k), sorted(x)));
            return out;
        }
        if (v instanceof List<?> l) {
            return l.stream().map(Strategies::sorted).toList();
        }
        return v;
    }

    private static Strategy fedavg(Config c, TensorMap model) {
        int minWorkers = c.count("min_workers", 2, 1);
        double fraction = c.number("fraction", 1.0);
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException(c.path("fraction") + ": must be in (0, 1], got " + fraction);
        }
        boolean population = c.has("workers");
        int workers = c.count("workers", 0, 1);
        if (!population && c.has("fraction")) {
            throw new IllegalArgumentException(c.path("fraction") + ": needs " + c.path("workers")
                    + " (the number of workers to take the fraction of)");
        }
        int expected = population ? Math.max(minWorkers, (int) (fraction * workers)) : minWorkers;
        return rounds("fedavg", c, model, expected, minWorkers, "examples",
                Map.of("name", "sgd", "lr", 1.0), Fragments.byTensors(model.infos(), 1), null);
    }

    private static Strategy diloco(Config c, TensorMap model) {
        int workers = c.count("workers", 2, 1);
        int minWorkers = c.count("min_workers", workers, 1);
        if (minWorkers > workers) {
            throw new IllegalArgumentException(c.path("min_workers") + ": must be <= workers " + workers + ", got "
                    + minWorkers);
        }
        int fragments = c.count("fragments", 1, 1);
        String cut = c.text("fragment_split", "elements");
        if (!cut.equals("elements") && !cut.equals("tensors")) {
            throw new IllegalArgumentException(c.path("fragment_split") + ": must be elements or tensors, got \"" + cut + "\"");
        }
        List<List<Fragments.Slice>> split = cut.equals("elements") && fragments > 1
                ? Fragments.byElements(model.infos(), fragments) : Fragments.byTensors(model.infos(), fragments);
        InnerLoop inner = InnerLoop.parse(c, split);
        return rounds("diloco", c, model, workers, minWorkers, "uniform",
                Map.of("name", "momentum", "lr", 0.7, "momentum", 0.9, "nesterov", true), split, inner);
    }

    private static Strategy rounds(String name, Config c, TensorMap model, int expected, int minWorkers,
            String weighting, Map<String, Object> optimizerDefaults, List<List<Fragments.Slice>> fragments, InnerLoop inner) {
        double deadlineS = c.nonNegative("round_deadline_s", 0);
        long deadlineMillis = deadlineS == 0 ? 0 : Math.max(1, Math.round(deadlineS * 1000));
        boolean byExamples = Settings.weightByExamples(c, weighting);
        Aggregator aggregator = Settings.aggregator(c, "mean", minWorkers, expected);
        Supplier<ServerOptimizer> optimizer = Settings.optimizer(c, optimizerDefaults);
        long maxStaleness = Settings.maxStaleness(c, Long.MAX_VALUE);
        return new RoundStrategy(name, model, maxStaleness, new RoundStrategy.Settings(expected, minWorkers,
                deadlineMillis, byExamples, aggregator, optimizer, fragments, inner));
    }

    private static Strategy fedbuff(Config c, TensorMap model) {
        boolean auto = c.raw("buffer_size") == null || "auto".equals(c.raw("buffer_size"));
        int bufferSize = auto ? 0 : c.count("buffer_size", 10, 1);
        double fraction = c.number("buffer_fraction", 0.5);
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException(c.path("buffer_fraction") + ": must be in (0, 1], got " + fraction);
        }
        int initial = c.count("initial_buffer_size", 10, 1);
        int max = c.count("max_buffer_size", 1000, 1);
        Object step = c.raw("step_scale");
        if (step != null && !"auto".equals(step) && !"none".equals(step)) {
            throw new IllegalArgumentException(c.path("step_scale") + ": must be auto (K / observed concurrency) or none, got \""
                    + step + "\"");
        }
        if (!auto && (c.has("buffer_fraction") || c.has("initial_buffer_size") || c.has("max_buffer_size"))) {
            throw new IllegalArgumentException(c.path("buffer_size") + ": " + bufferSize
                    + " fixes the buffer; buffer_fraction, initial_buffer_size and max_buffer_size apply to buffer_size: auto");
        }
        boolean scaleStep = step == null ? auto : step.equals("auto");
        FedBuffStrategy.Sizing sizing = new FedBuffStrategy.Sizing(bufferSize, fraction, initial, max, scaleStep);
        StalenessFunction staleness = Settings.staleness(c, "polynomial", 0.5);
        boolean byExamples = Settings.weightByExamples(c, "examples");
        double examplesFloor = examplesFloor(c, auto && byExamples ? 0.1 : 0);
        if (c.has("examples_floor") && examplesFloor > 0 && !byExamples) {
            throw new IllegalArgumentException(c.path("examples_floor") + ": " + examplesFloor
                    + " weighs buffers by their examples: it needs weighting: examples");
        }
        String weights = c.text("participation_weights", "none");
        if (!weights.equals("none") && !weights.equals("fedau")) {
            throw new IllegalArgumentException(c.path("participation_weights") + ": must be fedau (each worker "
                    + "weighed by its mean participation interval) or none, got \"" + weights + "\"");
        }
        double cap = c.number("participation_cap", 10);
        if (!(cap >= 1 && Double.isFinite(cap))) {
            throw new IllegalArgumentException(c.path("participation_cap") + ": must be a number >= 1, got " + cap);
        }
        if (c.has("participation_cap") && weights.equals("none")) {
            throw new IllegalArgumentException(c.path("participation_cap") + ": applies to participation_weights: fedau");
        }
        String aggregatorName = c.text("aggregator", "mean");
        if (auto && !Aggregator.streams(aggregatorName)) {
            throw new IllegalArgumentException(c.path("aggregator") + ": " + aggregatorName
                    + " is checked against a fixed number of updates: give buffer_size a number");
        }
        Aggregator aggregator = Settings.aggregator(c, "mean", auto ? new int[] {initial} : new int[] {bufferSize});
        Supplier<ServerOptimizer> optimizer = Settings.optimizer(c, Map.of("name", "sgd", "lr", 1.0));
        long maxStaleness = Settings.maxStaleness(c, Long.MAX_VALUE);
        return new FedBuffStrategy(model, maxStaleness, sizing, staleness, byExamples, examplesFloor,
                weights.equals("fedau") ? new ParticipationWeights(cap) : null, aggregator, optimizer);
    }

    private static Strategy fedasync(Config c, TensorMap model) {
        if (c.has("aggregator") || c.has("aggregator_params")) {
            throw new IllegalArgumentException(c.path("aggregator") + ": fedasync mixes one update at a time; "
                    + "aggregators apply to fedavg, fedbuff and diloco");
        }
        double alpha = c.number("alpha", 0.9);
        if (!(alpha > 0 && alpha <= 1)) {
            throw new IllegalArgumentException(c.path("alpha") + ": must be in (0, 1], got " + alpha);
        }
        Object scale = c.raw("alpha_scale");
        if (scale != null && !"auto".equals(scale) && !"none".equals(scale)) {
            throw new IllegalArgumentException(c.path("alpha_scale") + ": must be auto (alpha capped at 1 / observed "
                    + "concurrency) or none, got \"" + scale + "\"");
        }
        StalenessFunction staleness = Settings.staleness(c, "polynomial", 0.5);
        String mixing = c.text("mixing", "model");
        if (!mixing.equals("model") && !mixing.equals("delta")) {
            throw new IllegalArgumentException(c.path("mixing") + ": must be model or delta, got \"" + mixing + "\"");
        }
        boolean modelMixing = mixing.equals("model");
        boolean scaleAlpha = scale == null ? !c.has("alpha") : scale.equals("auto");
        double examplesFloor = examplesFloor(c, scaleAlpha ? 0.1 : 0);
        String clock = c.text("staleness_clock", scaleAlpha ? "workers" : "versions");
        if (!clock.equals("workers") && !clock.equals("versions")) {
            throw new IllegalArgumentException(c.path("staleness_clock") + ": must be workers (distinct workers merged "
                    + "since the base) or versions, got \"" + clock + "\"");
        }
        boolean workers = clock.equals("workers");
        long maxStaleness = Settings.maxStaleness(c, modelMixing && !workers ? 16 : Long.MAX_VALUE);
        long history = c.whole("history", workers || maxStaleness == Long.MAX_VALUE ? 16 : maxStaleness, 0);
        if (!modelMixing && c.has("history")) {
            throw new IllegalArgumentException(c.path("history") + ": delta mixing keeps no models; history applies to "
                    + "mixing: model");
        }
        return new FedAsyncStrategy(model, maxStaleness, alpha, scaleAlpha, staleness, modelMixing, examplesFloor,
                workers, modelMixing ? history : 0);
    }

    /** φ of the examples floor (FedBuff and FedAsync), in [0, 1]. */
    private static double examplesFloor(Config c, double dflt) {
        double phi = c.number("examples_floor", dflt);
        if (!(phi >= 0 && phi <= 1)) {
            throw new IllegalArgumentException(c.path("examples_floor") + ": must be in [0, 1], got " + phi);
        }
        return phi;
    }
}
