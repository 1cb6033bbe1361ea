package dev.tributary.rl.learner;

import dev.tributary.coordinator.YamlSettings;
import dev.tributary.rl.ppo.PpoConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * How a learner runs. In a YAML file every key is optional:
 *
 * <pre>
 * steps_per_item: 128   # T: steps per environment in each pushed item
 * batch_items: 2        # items per training step
 * max_lag: 8            # versions an item's oldest step may be behind; older ones are refused (and dropped before training)
 * max_item_bytes: 16777216
 * publish_every: 1      # training steps per published version
 * buffer_items: 8       # items waiting for training at most (default 4 × batch_items); beyond, pushes wait
 * learning_rate: 2.5e-4
 * anneal_learning_rate: true  # linearly to 0 over total_steps
 * total_steps: 500000   # environment steps the schedule spans
 * epochs: 4             # PPO: passes over each batch
 * minibatches: 4        # PPO: minibatches per pass
 * gamma: 0.99
 * gae_lambda: 0.95      # PPO
 * clip: 0.2             # PPO
 * entropy_coef: 0.01
 * value_coef: 0.5
 * max_grad_norm: 0.5
 * rho_bar: 1.0          # PPO: truncation of min(π_old/μ, ρ̄); IMPALA's V-trace always uses ρ̄ = c̄ = 1
 * hidden: [64, 64]
 * seed: 1
 * </pre>
 *
 * @param algo          {@code ppo} or {@code impala}
 * @param stepsPerItem  T of every item
 * @param batchItems    items per training step
 * @param maxLag        the bound on an item's lag, in versions
 * @param maxItemBytes  the largest payload accepted
 * @param publishEvery  training steps per published version
 * @param bufferItems   items waiting for training at most: beyond, the learner answers pushes UNAVAILABLE
 *                      ("busy: …") and actors wait, so that they do not run ahead of training
 * @param optimization  learning rate, schedule, discount, loss coefficients, network and seed (its {@code envs}
 *                      is {@code batchItems} and its {@code steps} is {@code stepsPerItem})
 */
public record LearnerConfig(String algo, int stepsPerItem, int batchItems, long maxLag, long maxItemBytes,
                            int publishEvery, int bufferItems, PpoConfig optimization) {

    /** The algorithms a learner trains with. */
    public static final List<String> ALGOS = List.of("ppo", "impala");

    private static final Set<String> KEYS = Set.of("steps_per_item", "batch_items", "max_lag", "max_item_bytes",
            "publish_every", "buffer_items", "learning_rate", "anneal_learning_rate", "total_steps", "epochs",
            "minibatches", "gamma", "gae_lambda", "clip", "entropy_coef", "value_coef", "max_grad_norm", "rho_bar",
            "hidden", "seed");

    public LearnerConfig {
        if (!ALGOS.contains(algo)) {
            throw new IllegalArgumentException("algo \"" + algo + "\": expected one of " + String.join(", ", ALGOS));
        }
        atLeast("steps_per_item", stepsPerItem, 1);
        atLeast("batch_items", batchItems, 1);
        atLeast("max_lag", maxLag, 0);
        atLeast("max_item_bytes", maxItemBytes, 1024);
        atLeast("publish_every", publishEvery, 1);
        atLeast("buffer_items", bufferItems, batchItems);
        if (stepsPerItem > 1 << 16) {
            throw new IllegalArgumentException("steps_per_item: must be at most 65536, got " + stepsPerItem);
        }
    }

    /**
     * The defaults for {@code algo}: CleanRL's PPO settings for CartPole (T = 128, two items of 4 environments
     * per step make 1024 steps); for IMPALA one pass (1 epoch, 1 minibatch) with learning rate 1e-3.
     */
    public static LearnerConfig defaults(String algo) {
        return of(algo, Map.of());
    }

    /** Reads {@code file} over the defaults for {@code algo}; unknown keys are refused. */
    public static LearnerConfig fromYaml(String algo, Path file) throws IOException {
        Map<String, Object> values = YamlSettings.read(file);
        try {
            return of(algo, values);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** {@code values} (YAML keys) over the defaults for {@code algo}. */
    public static LearnerConfig of(String algo, Map<String, Object> values) {
        Set<String> unknown = new TreeSet<>(values.keySet());
        unknown.removeAll(KEYS);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown settings " + unknown + " (known: " + new TreeSet<>(KEYS) + ")");
        }
        boolean impala = "impala".equals(algo);
        PpoConfig c = PpoConfig.cleanRl();
        int steps = (int) number(values, "steps_per_item", 128);
        int batch = (int) number(values, "batch_items", 2);
        PpoConfig opt = new PpoConfig(batch, steps,
                (int) number(values, "epochs", impala ? 1 : c.epochs()),
                (int) number(values, "minibatches", impala ? 1 : c.minibatches()),
                number(values, "learning_rate", impala ? 1e-3 : c.learningRate()),
                flag(values, "anneal_learning_rate", c.annealLearningRate()),
                number(values, "gamma", c.gamma()),
                number(values, "gae_lambda", c.gaeLambda()),
                number(values, "clip", c.clip()),
                number(values, "entropy_coef", c.entropyCoef()),
                number(values, "value_coef", c.valueCoef()),
                number(values, "max_grad_norm", c.maxGradNorm()),
                c.normalizeAdvantages(), c.clipValueLoss(),
                number(values, "rho_bar", c.rhoBar()),
                (long) number(values, "total_steps", c.totalSteps()),
                hidden(values, c.hidden()),
                (long) number(values, "seed", c.seed()));
        return new LearnerConfig(algo, steps, batch, (long) number(values, "max_lag", 8),
                (long) number(values, "max_item_bytes", 16 << 20), (int) number(values, "publish_every", 1),
                (int) number(values, "buffer_items", 4 * batch), opt);
    }

    public LearnerConfig withOptimization(PpoConfig c) {
        return new LearnerConfig(algo, stepsPerItem, batchItems, maxLag, maxItemBytes, publishEvery, bufferItems, c);
    }

    public LearnerConfig withMaxLag(long lag) {
        return new LearnerConfig(algo, stepsPerItem, batchItems, lag, maxItemBytes, publishEvery, bufferItems,
                optimization);
    }

    private static double number(Map<String, Object> values, String key, double dflt) {
        Object v = values.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException(key + ": must be a number, got \"" + v + "\"");
        }
        return n.doubleValue();
    }

    private static boolean flag(Map<String, Object> values, String key, boolean dflt) {
        Object v = values.get(key);
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException(key + ": must be true or false, got \"" + v + "\"");
        }
        return b;
    }

    private static int[] hidden(Map<String, Object> values, int[] dflt) {
        Object v = values.get("hidden");
        if (v == null) {
            return dflt;
        }
        if (!(v instanceof List<?> l) || l.isEmpty() || !l.stream().allMatch(x -> x instanceof Integer i && i > 0)) {
            throw new IllegalArgumentException("hidden: must be a list of positive layer widths, got " + v);
        }
        return l.stream().mapToInt(x -> (Integer) x).toArray();
    }

    private static void atLeast(String key, long v, long min) {
        if (v < min) {
            throw new IllegalArgumentException(key + ": must be at least " + min + ", got " + v);
        }
    }
}
