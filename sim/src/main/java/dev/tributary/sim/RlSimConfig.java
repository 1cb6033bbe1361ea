package dev.tributary.sim;

import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.learner.LearnerConfig;
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
 * An actor-learner simulation as a YAML file describes it; a file with an {@code env} key is one. Times
 * are virtual seconds; speeds are environment steps per virtual second (each actor's, all its
 * environments together):
 *
 * <pre>
 * env: CartPole-v1            # CartPole-v1, Acrobot-v1 or Pendulum-v1
 * mode: async                 # async: actors push when done and act on with the newest policy;
 *                             # sync: the learner waits for one item of every actor, all of one version
 * actors: 8
 * envs_per_actor: 1           # environments each actor steps together
 * seed: 0                     # policy init, speeds, environments, action sampling, minibatches
 * speeds: {distribution: lognormal, spread: 10, median: 1000}   # as the federated configurations'
 * network: {bandwidth_mbps: 0, latency_ms: 0}                  # policy pulls and experience pushes
 * learner: {algo: ppo, steps_per_item: 64, batch_items: 8, max_lag: 8}  # tributary learn's settings;
 *                             # total_steps defaults to budget.env_steps, seed to the run's seed, and
 *                             # under sync batch_items is the number of actors
 * budget: {env_steps: 500000, virtual_seconds: 0}   # at least one; the run stops at the first reached
 * target: 475                 # mean return of the last 100 episodes whose first crossing is timed
 * stop_at_target: false       # end the run there
 * </pre>
 *
 * @param source         the file (or other origin) named in error messages
 * @param env            the environment's id
 * @param mode           {@code async} or {@code sync}
 * @param actors         simulated actors
 * @param envsPerActor   environments per actor
 * @param seed           the run's seed
 * @param speeds         how actor speeds are drawn (environment steps per virtual second)
 * @param network        transfer model for pulls and pushes
 * @param learner        the learner's settings
 * @param envStepsBudget environment steps (reaching the learner) after which the run stops; 0 for no bound
 * @param virtualSeconds virtual time the run stops at; 0 for no bound
 * @param target         the mean return to time; NaN for none
 * @param stopAtTarget   whether the run ends when the target is reached
 */
public record RlSimConfig(String source, String env, String mode, int actors, int envsPerActor, long seed,
        SimConfig.Speeds speeds, SimConfig.Network network, LearnerConfig learner, long envStepsBudget,
        double virtualSeconds, double target, boolean stopAtTarget) {

    /** The modes a run can take. */
    public static final String ASYNC = "async";
    public static final String SYNC = "sync";

    public RlSimConfig {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(env, "env");
        Objects.requireNonNull(speeds, "speeds");
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(learner, "learner");
        if (!mode.equals(ASYNC) && !mode.equals(SYNC)) {
            throw new IllegalArgumentException(source + ": mode: must be async or sync, got \"" + mode + "\"");
        }
        if (actors < 1 || envsPerActor < 1) {
            throw new IllegalArgumentException(source + ": actors " + actors + " and envs_per_actor " + envsPerActor
                    + ": must be >= 1");
        }
        if (envStepsBudget <= 0 && !(virtualSeconds > 0)) {
            throw new IllegalArgumentException(source + ": budget: give env_steps or virtual_seconds, so that every run ends");
        }
    }

    public boolean sync() {
        return mode.equals(SYNC);
    }

    /** This configuration with another seed (and the learner's seed with it, unless the file fixed it). */
    public RlSimConfig withSeed(long s, boolean learnerSeedFollows) {
        LearnerConfig l = learnerSeedFollows ? learner.withOptimization(learner.optimization().withSeed(s)) : learner;
        return new RlSimConfig(source, env, mode, actors, envsPerActor, s, speeds, network, l, envStepsBudget,
                virtualSeconds, target, stopAtTarget);
    }

    /** This configuration with another seed; the learner's seed follows it. */
    public RlSimConfig withSeed(long s) {
        return withSeed(s, true);
    }

    /** This configuration in another mode (under sync, batch_items becomes the number of actors). */
    public RlSimConfig withMode(String m) {
        LearnerConfig l = learner;
        if (m.equals(SYNC) && l.batchItems() != actors) {
            l = new LearnerConfig(l.algo(), l.stepsPerItem(), actors, l.maxLag(), l.maxItemBytes(), l.publishEvery(),
                    Math.max(l.bufferItems(), actors), l.optimization());
        }
        return new RlSimConfig(source, env, m, actors, envsPerActor, seed, speeds, network, l, envStepsBudget,
                virtualSeconds, target, stopAtTarget);
    }

    /** Whether the YAML document at {@code file} describes an actor-learner run (it has an {@code env} key). */
    public static boolean describesRl(Path file) throws IOException {
        return read(file) instanceof Map<?, ?> m && m.containsKey("env");
    }

    /** Reads a YAML file. */
    public static RlSimConfig load(Path file) throws IOException {
        return parse(read(file), file.toString());
    }

    private static Object read(Path file) throws IOException {
        try (Reader r = Files.newBufferedReader(file)) {
            return new Yaml(new SafeConstructor(new LoaderOptions())).load(r);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": not valid YAML: "
                    + String.valueOf(e.getMessage()).lines().findFirst().orElse(""));
        }
    }

    /** Reads a parsed YAML document; {@code source} names it in messages. */
    public static RlSimConfig parse(Object document, String source) {
        Section root = Section.root(source, document);
        String env = root.text("env", null);
        if (!ClassicControl.ids().contains(env)) {
            throw root.error("env", "must be one of " + String.join(", ", ClassicControl.ids()) + ", got \"" + env + "\"");
        }
        String mode = root.text("mode", ASYNC);
        if (!mode.equals(ASYNC) && !mode.equals(SYNC)) {
            throw root.error("mode", "must be async or sync, got \"" + mode + "\"");
        }
        if (!root.has("actors")) {
            throw root.error("actors", "is required");
        }
        int actors = root.count("actors", 1, 1);
        int envs = root.count("envs_per_actor", 1, 1);
        long seed = root.whole("seed", 0, Long.MIN_VALUE);
        SimConfig.Speeds speeds = SimConfig.speeds(root.section("speeds"));
        SimConfig.Network network = SimConfig.network(root.section("network"));
        Section budget = root.section("budget");
        long envSteps = budget.whole("env_steps", 0, 0);
        double seconds = budget.nonNegative("virtual_seconds", 0);
        if (envSteps == 0 && seconds == 0) {
            throw budget.error("env_steps", "give env_steps or virtual_seconds (> 0), so that every run ends");
        }
        budget.finish();
        LearnerConfig learner = learner(root, mode, actors, envSteps, seed);
        double target = root.has("target") ? root.number("target", 0) : Double.NaN;
        root.raw("target");
        Object stop = root.raw("stop_at_target");
        if (stop != null && !(stop instanceof Boolean)) {
            throw root.error("stop_at_target", "must be true or false, got " + stop);
        }
        boolean stopAtTarget = Boolean.TRUE.equals(stop);
        if (stopAtTarget && Double.isNaN(target)) {
            throw root.error("stop_at_target", "needs a target");
        }
        root.finish();
        return new RlSimConfig(source, env, mode, actors, envs, seed, speeds, network, learner, envSteps, seconds,
                target, stopAtTarget);
    }

    private static LearnerConfig learner(Section root, String mode, int actors, long envSteps, long seed) {
        Map<String, Object> values = new LinkedHashMap<>(root.map("learner"));
        Object algo = values.remove("algo");
        if (algo == null) {
            algo = "ppo";
        }
        if (!(algo instanceof String a) || !LearnerConfig.ALGOS.contains(a)) {
            throw root.error("learner", "algo: must be one of " + String.join(", ", LearnerConfig.ALGOS) + ", got \""
                    + algo + "\"");
        }
        if (mode.equals(SYNC)) {
            Object batch = values.get("batch_items");
            if (batch != null && !(batch instanceof Integer i && i == actors)) {
                throw root.error("learner", "batch_items: sync mode trains on one item of every actor, so it is "
                        + actors + " (actors), got " + batch);
            }
            values.put("batch_items", actors);
        }
        if (envSteps > 0) {
            values.putIfAbsent("total_steps", envSteps);
        }
        values.putIfAbsent("seed", seed);
        try {
            return LearnerConfig.of(a, values);
        } catch (IllegalArgumentException e) {
            throw root.error("learner", e.getMessage());
        }
    }
}
