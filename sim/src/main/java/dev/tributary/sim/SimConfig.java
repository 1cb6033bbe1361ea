package dev.tributary.sim;

import dev.tributary.coordinator.CoordinatorConfig.NormPolicy;
import dev.tributary.train.data.FashionMnist;
import dev.tributary.train.partition.Partitioner;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * A simulation run as a YAML file describes it. Keys (times are virtual seconds; speeds are training
 * examples per virtual second):
 *
 * <pre>
 * task: fmnist-mlp            # fmnist-mlp, fmnist-cnn or synthetic-logreg
 * data: /usr/share/datasets/fashion-mnist   # fmnist tasks; relative paths start at this file's folder
 * clients: 20
 * seed: 0                     # model init, speeds, churn, shuffling, and the partition unless it has its own
 * partition: {kind: dirichlet, alpha: 0.3}  # fmnist tasks: iid, dirichlet (alpha) or shards (shards_per_client); seed
 * speeds: {distribution: lognormal, spread: 10, median: 500}  # lognormal, loguniform or constant
 * network: {bandwidth_mbps: 0, latency_ms: 0}     # optional; 0 bandwidth: transfers take no time
 * churn: {mean_online_s: 600, mean_offline_s: 60} # optional; exponential on/off periods per client
 * participation: {concurrency: 0}  # FedBuff's limit: at most this many clients train at once, each free slot
 *                                  # going to an idle client drawn uniformly; 0: every client, always
 * strategy: {name: fedbuff, buffer_size: 10}      # handed to the coordinator's strategy as is
 * validation: {max_delta_norm: 1e6, norm_policy: refuse, max_update_bytes: 0}  # as the coordinator's
 * local: {epochs: 1, batch: 32, lr: 0.02, momentum: 0.9}  # or steps; batch, lr, momentum for fmnist tasks;
 *                             # under diloco only batch: the strategy's inner_steps and inner_optimizer rule
 * budget: {virtual_seconds: 3000, updates: 0, versions: 0}  # virtual_seconds required; the others stop earlier
 * target: 0.85                # accuracy whose first crossing the report times
 * eval_every: 30              # default: 1/100 of the budget
 * tick_every: 1               # period of the strategy's clock ticks (round deadlines)
 * threads: 2                  # clients training at once on real threads; default: the available cores
 * codec: int4:group=64        # optional: clients push deltas in this codec (a spec as work --codec takes it)
 * error_feedback: true        # optional, with a lossy codec: true (EF), ef21 or false; per client, see ClientCodecs
 * delta_pulls: true           # optional: pulls after a client's first cost a lossless version delta
 * </pre>
 *
 * @param source         the file (or other origin) named in error messages
 * @param task           the task's name
 * @param data           folder of the Fashion-MNIST files
 * @param clients        number of simulated clients
 * @param seed           the run's seed
 * @param partition      how the training set is split (fmnist tasks; null for tasks that bring their own data)
 * @param speeds         how client speeds are drawn
 * @param network        transfer model
 * @param churn          availability model; null when clients are always available
 * @param concurrency    clients training at once (drawn uniformly among the idle ones), 0 for all of them
 * @param strategy       the strategy's name
 * @param strategyConfig the strategy's settings, handed to {@code Strategies.create}
 * @param validation     the update validator's bounds
 * @param local          local training per update
 * @param budget         when the run stops
 * @param target         the accuracy to time; NaN for none
 * @param evalEvery      virtual seconds between evaluations of the global model
 * @param tickEvery      virtual seconds between strategy clock ticks
 * @param threads        real threads local training may use at once (the report does not depend on it)
 * @param codecs         push codec, error feedback and pulls ({@link CodecSettings#NONE}: f32 pushes, full pulls)
 */
public record SimConfig(String source, String task, Path data, int clients, long seed, Partition partition,
        Speeds speeds, Network network, Churn churn, int concurrency, String strategy, Map<String, Object> strategyConfig,
        Validation validation, Local local, Budget budget, double target, double evalEvery, double tickEvery,
        int threads, CodecSettings codecs) {

    public SimConfig {
        Objects.requireNonNull(codecs, "codecs");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(task, "task");
        Objects.requireNonNull(speeds, "speeds");
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(validation, "validation");
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(budget, "budget");
        strategyConfig = Map.copyOf(strategyConfig);
        if (clients < 1) {
            throw new IllegalArgumentException(source + ": clients: must be >= 1, got " + clients);
        }
        if (threads < 1) {
            throw new IllegalArgumentException(source + ": threads: must be >= 1, got " + threads);
        }
        if (concurrency < 0) {
            throw new IllegalArgumentException(source + ": participation: concurrency: must be >= 0, got " + concurrency);
        }
        if (!(evalEvery > 0) || !(tickEvery > 0)) {
            throw new IllegalArgumentException(source + ": eval_every " + evalEvery + " and tick_every " + tickEvery
                    + ": must be > 0");
        }
    }

    /**
     * How the training set is split among clients.
     *
     * @param kind            iid, dirichlet or shards
     * @param alpha           Dirichlet concentration
     * @param shardsPerClient shards dealt to each client
     * @param seed            the split's seed; null to follow the run's seed
     */
    public record Partition(String kind, double alpha, int shardsPerClient, Long seed) {
        /** The partitioner this describes. */
        public Partitioner partitioner() {
            return switch (kind) {
                case "iid" -> Partitioner.iid();
                case "dirichlet" -> Partitioner.dirichlet(alpha);
                case "shards" -> Partitioner.shards(shardsPerClient);
                default -> throw new IllegalArgumentException("partition kind \"" + kind
                        + "\": expected iid, dirichlet or shards");
            };
        }

        /** The split's seed for a run seeded {@code runSeed}. */
        public long seedFor(long runSeed) {
            return seed == null ? runSeed : seed;
        }
    }

    /**
     * Client speeds in training examples per virtual second.
     *
     * @param distribution lognormal, loguniform or constant
     * @param spread       fastest / slowest over the clients (≥ 1)
     * @param median       the median client's speed
     */
    public record Speeds(String distribution, double spread, double median) {}

    /**
     * Transfers: a pull takes model bytes / bandwidth, a push delta bytes / bandwidth, each plus the latency.
     *
     * @param bandwidthMbps megabits per second per client; 0 when transfers take no time
     * @param latencySeconds one-way latency added to every transfer
     */
    public record Network(double bandwidthMbps, double latencySeconds) {
        /** Virtual seconds to move {@code bytes}. */
        public double seconds(long bytes) {
            return latencySeconds + (bandwidthMbps > 0 ? bytes * 8 / (bandwidthMbps * 1e6) : 0);
        }
    }

    /**
     * Each client alternates online and offline periods drawn from exponential distributions; an update
     * in flight when its client goes offline is lost.
     */
    public record Churn(double meanOnlineSeconds, double meanOfflineSeconds) {}

    /** The update validator's bounds, as in the coordinator's configuration. */
    public record Validation(double maxDeltaNorm, NormPolicy normPolicy, long maxUpdateBytes) {}

    /**
     * Local training per update: {@code steps} optimizer steps, or {@code epochs} passes when steps is 0;
     * batch 0 and NaN lr or momentum take the task's defaults.
     */
    public record Local(int epochs, int steps, int batch, double lr, double momentum) {}

    /**
     * When the run stops: at {@code virtualSeconds}, or earlier after {@code updates} accepted updates or at
     * version {@code versions} (0: no such bound).
     */
    public record Budget(double virtualSeconds, long updates, long versions) {}

    /** Whether fewer than all clients train at once. */
    public boolean limited() {
        return concurrency > 0 && concurrency < clients;
    }

    /** This configuration with another seed (the partition follows it unless it has its own). */
    public SimConfig withSeed(long s) {
        return new SimConfig(source, task, data, clients, s, partition, speeds, network, churn, concurrency, strategy,
                strategyConfig,
                validation, local, budget, target, evalEvery, tickEvery, threads, codecs);
    }

    /** Reads a YAML file; relative paths in it start at its folder. */
    public static SimConfig load(Path file) throws IOException {
        Object root;
        try (Reader r = Files.newBufferedReader(file)) {
            root = new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
        Path dir = file.toAbsolutePath().getParent();
        return parse(root, dir == null ? Path.of(".") : dir, file.toString());
    }

    /**
     * Reads a parsed YAML document ({@code Map}s, strings, numbers).
     *
     * @param baseDir where relative paths start
     * @param source  named in error messages
     */
    public static SimConfig parse(Object document, Path baseDir, String source) {
        Section root = Section.root(source, document);
        String task = root.text("task", null);
        boolean fmnist = task.startsWith("fmnist-");
        Path data = FashionMnist.DEFAULT_DIR;
        if (root.has("data")) {
            if (!fmnist) {
                throw root.error("data", "only fmnist tasks read a data folder; " + task + " makes its own");
            }
            data = baseDir.resolve(root.text("data", null)).normalize();
        }
        if (!root.has("clients")) {
            throw root.error("clients", "is required");
        }
        int clients = root.count("clients", 1, 1);
        long seed = root.whole("seed", 0, Long.MIN_VALUE);
        Partition partition = null;
        if (root.has("partition") && !fmnist) {
            throw root.error("partition", "only fmnist tasks are partitioned; " + task + " gives each client its own data");
        }
        if (fmnist) {
            partition = partition(root.section("partition"));
        }
        Speeds speeds = speeds(root.section("speeds"));
        Network network = network(root.section("network"));
        Churn churn = root.has("churn") ? churn(root.section("churn")) : null;
        root.raw("churn");
        Section participation = root.section("participation");
        int concurrency = participation.count("concurrency", 0, 0);
        participation.finish();
        Map<String, Object> strategyMap = new LinkedHashMap<>(root.map("strategy"));
        if (!root.has("strategy")) {
            throw root.error("strategy", "is required (a map with name and the strategy's settings)");
        }
        Object name = strategyMap.remove("name");
        if (!(name instanceof String strategyName) || strategyName.isBlank()) {
            throw root.error("strategy", "needs a name (fedavg, fedasync, fedbuff or diloco)");
        }
        Validation validation = validation(root.section("validation"));
        Local local = local(root.section("local"), fmnist, task);
        Budget budget = budget(root.section("budget"));
        double target = root.has("target") ? root.number("target", 0) : Double.NaN;
        root.raw("target");
        if (!Double.isNaN(target) && !(target > 0 && target <= 1)) {
            throw root.error("target", "must be an accuracy in (0, 1], got " + target);
        }
        double evalEvery = root.positive("eval_every", budget.virtualSeconds() / 100);
        double tickEvery = root.positive("tick_every", 1);
        int threads = root.count("threads", Runtime.getRuntime().availableProcessors(), 1);
        CodecSettings codecs = CodecSettings.parse(root);
        root.finish();
        return new SimConfig(source, task, data, clients, seed, partition, speeds, network, churn, concurrency, strategyName,
                strategyMap, validation, local, budget, target, evalEvery, tickEvery, threads, codecs);
    }

    private static Partition partition(Section s) {
        String kind = s.text("kind", "dirichlet");
        double alpha = s.positive("alpha", 0.3);
        int shards = s.count("shards_per_client", 2, 1);
        Long seed = s.has("seed") ? s.whole("seed", 0, Long.MIN_VALUE) : null;
        s.raw("seed");
        if (!kind.equals("iid") && !kind.equals("dirichlet") && !kind.equals("shards")) {
            throw s.error("kind", "must be iid, dirichlet or shards, got \"" + kind + "\"");
        }
        s.finish();
        return new Partition(kind, alpha, shards, seed);
    }

    static Speeds speeds(Section s) {
        String distribution = s.text("distribution", "lognormal");
        if (!distribution.equals("lognormal") && !distribution.equals("loguniform") && !distribution.equals("constant")) {
            throw s.error("distribution", "must be lognormal, loguniform or constant, got \"" + distribution + "\"");
        }
        double spread = s.number("spread", 10);
        if (!(spread >= 1)) {
            throw s.error("spread", "is fastest / slowest and must be >= 1, got " + spread);
        }
        double median = s.positive("median", 500);
        s.finish();
        return new Speeds(distribution, spread, median);
    }

    static Network network(Section s) {
        double bandwidth = s.nonNegative("bandwidth_mbps", 0);
        double latencyMs = s.nonNegative("latency_ms", 0);
        s.finish();
        return new Network(bandwidth, latencyMs / 1000);
    }

    private static Churn churn(Section s) {
        double on = s.positive("mean_online_s", 0);
        double off = s.positive("mean_offline_s", 0);
        if (!s.has("mean_online_s") || !s.has("mean_offline_s")) {
            throw s.error(s.has("mean_online_s") ? "mean_offline_s" : "mean_online_s", "is required with churn");
        }
        s.finish();
        return new Churn(on, off);
    }

    private static Validation validation(Section s) {
        double norm = s.nonNegative("max_delta_norm", dev.tributary.coordinator.CoordinatorConfig.DEFAULT_MAX_DELTA_NORM);
        String policy = s.text("norm_policy", "refuse");
        NormPolicy p = switch (policy) {
            case "refuse" -> NormPolicy.REFUSE;
            case "clip" -> NormPolicy.CLIP;
            default -> throw s.error("norm_policy", "must be refuse or clip, got \"" + policy + "\"");
        };
        long maxBytes = s.whole("max_update_bytes", 0, 0);
        s.finish();
        return new Validation(norm, p, maxBytes);
    }

    private static Local local(Section s, boolean fmnist, String task) {
        if (s.has("epochs") && s.has("steps")) {
            throw s.error("steps", "give steps or epochs, not both");
        }
        int epochs = s.count("epochs", 0, 1);
        int steps = s.count("steps", 0, 1);
        for (String key : new String[] {"batch", "lr", "momentum"}) {
            if (s.has(key) && !fmnist) {
                throw s.error(key, "only fmnist tasks take it; " + task + " trains with its own settings");
            }
        }
        int batch = s.count("batch", 0, 1);
        double lr = s.has("lr") ? s.positive("lr", 0) : Double.NaN;
        s.raw("lr");
        double momentum = s.has("momentum") ? s.nonNegative("momentum", 0) : Double.NaN;
        s.raw("momentum");
        if (momentum >= 1) {
            throw s.error("momentum", "must be in [0, 1), got " + momentum);
        }
        s.finish();
        return new Local(epochs, steps, batch, lr, momentum);
    }

    private static Budget budget(Section s) {
        if (!s.has("virtual_seconds")) {
            throw s.error("virtual_seconds", "is required, so that every run ends");
        }
        double seconds = s.positive("virtual_seconds", 0);
        long updates = s.whole("updates", 0, 0);
        long versions = s.whole("versions", 0, 0);
        s.finish();
        return new Budget(seconds, updates, versions);
    }
}
