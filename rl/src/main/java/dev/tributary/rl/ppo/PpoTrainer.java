package dev.tributary.rl.ppo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.env.VectorEnvironment;
import dev.tributary.rl.policy.Acting;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.rl.policy.Adam;
import dev.tributary.rl.policy.Evaluation;
import dev.tributary.rl.policy.Head;
import dev.tributary.rl.returns.Gae;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Single-process PPO (Schulman et al. 2017) as CleanRL's {@code ppo.py} runs it: vectorized environments,
 * rollouts of {@code envs × steps}, GAE (truncated episodes bootstrap from their last observation), several
 * epochs of shuffled minibatches, Adam with a linearly annealed learning rate and gradient clipping.
 *
 * <p>Call order: construct, then {@link #iterate()} (one rollout and one update) or {@link #train} as often
 * as wanted, then {@link #close()}. One thread at a time.
 */
public final class PpoTrainer implements AutoCloseable {
    /** Finished episodes the mean return is taken over. */
    public static final int RETURN_WINDOW = 100;

    private final PpoConfig config;
    private final VectorEnvironment envs;
    private final ActorCritic policy;
    private final Adam adam;
    private final SplittableRandom shuffle;
    private final ArrayDeque<Double> recentReturns = new ArrayDeque<>();
    private final long iterations;
    private float[][] observations;
    private long envSteps;
    private long episodes;
    private int iteration;

    /**
     * What one iteration did.
     *
     * @param iteration    1, 2, …
     * @param envSteps     environment steps so far
     * @param episodes     episodes finished so far
     * @param meanReturn   mean return of the last {@link #RETURN_WINDOW} finished episodes (NaN before the first)
     * @param learningRate the learning rate used
     * @param policyLoss   the clipped surrogate, mean over the minibatches
     * @param valueLoss    the value loss, mean over the minibatches
     * @param entropy      the policy's entropy, mean over the minibatches
     * @param approxKl     CleanRL's estimate {@code mean((r − 1) − log r)} on the last minibatch
     * @param clipFraction share of the last pass's rows where the ratio left [1 − ε, 1 + ε]
     */
    public record Iteration(int iteration, long envSteps, long episodes, double meanReturn, double learningRate,
                            double policyLoss, double valueLoss, double entropy, double approxKl,
                            double clipFraction) {}

    /** A trainer over {@code config.envs()} environments made by {@code environments}. */
    public PpoTrainer(PpoConfig config, Supplier<Environment> environments) {
        this.config = config;
        List<Environment> copies = new ArrayList<>(config.envs());
        for (int i = 0; i < config.envs(); i++) {
            copies.add(environments.get());
        }
        this.envs = new VectorEnvironment(copies, config.seed());
        this.policy = ActorCritic.create(envs.observationSpace(), envs.actionSpace(), config.seed(), config.hidden());
        this.adam = new Adam(policy, 0.9, 0.999, 1e-5);
        this.shuffle = new SplittableRandom(config.seed() + 1);
        this.iterations = Math.max(1, config.totalSteps() / config.batchSize());
        this.observations = envs.reset();
    }

    /** The policy being trained (its weights can be read or published at any time between iterations). */
    public ActorCritic policy() {
        return policy;
    }

    /** Environment steps taken so far. */
    public long envSteps() {
        return envSteps;
    }

    /**
     * Iterates until {@code totalSteps} environment steps are spent, or until the mean return over the last
     * {@link #RETURN_WINDOW} episodes (a full window) reaches {@code targetReturn}.
     *
     * @return the last iteration
     */
    public Iteration train(double targetReturn, Consumer<Iteration> progress) {
        Iteration last;
        do {
            last = iterate();
            progress.accept(last);
        } while (envSteps < config.totalSteps()
                && !(recentReturns.size() == RETURN_WINDOW && last.meanReturn() >= targetReturn));
        return last;
    }

    /** One rollout of {@code envs × steps} steps and one PPO update on it. */
    public Iteration iterate() {
        iteration++;
        double lr = config.annealLearningRate()
                ? config.learningRate() * Math.max(0, 1.0 - (iteration - 1.0) / iterations)
                : config.learningRate();
        Rollout rollout = collect();
        double[] advantages = new double[rollout.size()];
        double[] returns = new double[rollout.size()];
        advantages(rollout, advantages, returns);
        return update(rollout, advantages, returns, lr);
    }

    private Rollout collect() {
        Rollout r = new Rollout(config.steps(), config.envs());
        int n = config.envs();
        for (int t = 0; t < config.steps(); t++) {
            Acting acting = policy.act(observations);
            VectorEnvironment.Step step = envs.step(acting.actions());
            List<Integer> truncatedRows = new ArrayList<>();
            List<float[]> finals = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                int row = r.row(t, i);
                r.observations[row] = observations[i];
                r.actions[row] = acting.actions()[i].toFloats();
                r.behaviourLogProbs[row] = acting.logProbs()[i];
                r.values[row] = acting.values()[i];
                r.rewards[row] = step.rewards()[i];
                r.terminated[row] = step.terminated()[i];
                r.truncated[row] = step.truncated()[i];
                if (step.truncated()[i] && !step.terminated()[i]) {
                    truncatedRows.add(row);
                    finals.add(step.finalObservations()[i]);
                }
                if (step.done(i)) {
                    recordReturn(step.episodeReturns()[i]);
                }
            }
            if (!finals.isEmpty()) {
                float[] v = policy.values(finals.toArray(float[][]::new));
                for (int k = 0; k < v.length; k++) {
                    r.nextValues[truncatedRows.get(k)] = v[k];
                }
            }
            observations = step.observations();
            envSteps += n;
        }
        float[] bootstrap = policy.values(observations);
        for (int t = 0; t < config.steps(); t++) {
            for (int i = 0; i < n; i++) {
                int row = r.row(t, i);
                if (!r.terminated[row] && !r.truncated[row]) {
                    r.nextValues[row] = t + 1 < config.steps() ? r.values[r.row(t + 1, i)] : bootstrap[i];
                }
            }
        }
        return r;
    }

    private void advantages(Rollout r, double[] advantages, double[] returns) {
        int steps = r.steps;
        for (int i = 0; i < r.envs; i++) {
            double[] rewards = new double[steps];
            double[] values = new double[steps];
            double[] next = new double[steps];
            boolean[] terminated = new boolean[steps];
            boolean[] truncated = new boolean[steps];
            for (int t = 0; t < steps; t++) {
                int row = r.row(t, i);
                rewards[t] = r.rewards[row];
                values[t] = r.values[row];
                next[t] = r.nextValues[row];
                terminated[t] = r.terminated[row];
                truncated[t] = r.truncated[row];
            }
            Gae.Result g = Gae.compute(rewards, values, next, terminated, truncated, config.gamma(), config.gaeLambda());
            for (int t = 0; t < steps; t++) {
                advantages[r.row(t, i)] = g.advantages()[t];
                returns[r.row(t, i)] = g.returns()[t];
            }
        }
    }

    private Iteration update(Rollout r, double[] advantages, double[] returns, double lr) {
        // In one process the behaviour policy is π_old itself, so every truncated importance weight is 1;
        // the weights stay in the loss for experience that arrives from lagging actors.
        double[] weights = PpoLoss.truncatedWeights(r.behaviourLogProbs, r.behaviourLogProbs, config.rhoBar());
        int size = r.size();
        int mb = config.minibatchSize();
        double policySum = 0;
        double valueSum = 0;
        double entropySum = 0;
        int updates = 0;
        double[] diagnostics = new double[2];
        long clipped = 0;
        long rows = 0;
        for (int epoch = 0; epoch < config.epochs(); epoch++) {
            int[] order = permutation(size);
            clipped = 0;
            rows = 0;
            for (int start = 0; start < size; start += mb) {
                int[] idx = java.util.Arrays.copyOfRange(order, start, start + mb);
                double[][] terms = new double[1][];
                Adam.StepStats s = adam.step(p -> minibatchLoss(p, r, idx, advantages, returns, weights, terms),
                        lr, config.maxGradNorm());
                policySum += terms[0][0];
                valueSum += terms[0][1];
                entropySum += terms[0][2];
                diagnostics[0] = terms[0][3];
                clipped += (long) terms[0][4];
                rows += mb;
                updates++;
                if (!Double.isFinite(s.loss())) {
                    throw new IllegalStateException("PPO loss is not finite at iteration " + iteration + ": " + s.loss());
                }
            }
        }
        double mean = recentReturns.isEmpty() ? Double.NaN
                : recentReturns.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        return new Iteration(iteration, envSteps, episodes, mean, lr, policySum / updates, valueSum / updates,
                entropySum / updates, diagnostics[0], rows == 0 ? 0 : (double) clipped / rows);
    }

    /** The loss on rows {@code idx}; {@code out[0]} receives policy, value, entropy, approx KL, clipped rows. */
    private NDArray minibatchLoss(ActorCritic p, Rollout r, int[] idx, double[] advantages, double[] returns,
                                  double[] weights, double[][] out) {
        NDManager m = p.manager();
        int b = idx.length;
        int obsSize = p.observations();
        float[] obs = new float[b * obsSize];
        float[] oldLogProbs = new float[b];
        float[] adv = new float[b];
        float[] ret = new float[b];
        float[] oldValues = new float[b];
        float[] w = new float[b];
        int actionSize = r.actions[0].length;
        float[] actions = new float[b * actionSize];
        for (int k = 0; k < b; k++) {
            int row = idx[k];
            System.arraycopy(r.observations[row], 0, obs, k * obsSize, obsSize);
            System.arraycopy(r.actions[row], 0, actions, k * actionSize, actionSize);
            oldLogProbs[k] = (float) r.behaviourLogProbs[row];
            ret[k] = (float) returns[row];
            oldValues[k] = (float) r.values[row];
            w[k] = (float) weights[row];
        }
        normalized(advantages, idx, adv);
        NDArray actionArray = p.head() instanceof Head.Categorical
                ? m.create(actions, new Shape(b))
                : m.create(actions, new Shape(b, actionSize));
        Evaluation e = p.evaluate(m.create(obs, new Shape(b, obsSize)), actionArray);
        Surrogate.Terms t = Surrogate.compute(e, m.create(oldLogProbs), m.create(w), m.create(adv), m.create(ret),
                m.create(oldValues), config);
        float[] ratio = t.ratio().toFloatArray();
        float[] logRatio = t.logRatio().toFloatArray();
        double kl = 0;
        long clippedRows = 0;
        for (int k = 0; k < b; k++) {
            kl += (ratio[k] - 1) - logRatio[k];
            if (Math.abs(ratio[k] - 1) > config.clip()) {
                clippedRows++;
            }
        }
        out[0] = new double[] {t.policy().getFloat(), t.value().getFloat(), t.entropy().getFloat(), kl / b,
            clippedRows};
        return t.total();
    }

    /** Advantages of rows {@code idx}, normalized to mean 0 and (unbiased) standard deviation 1 if configured. */
    private void normalized(double[] advantages, int[] idx, float[] out) {
        double mean = 0;
        for (int row : idx) {
            mean += advantages[row];
        }
        mean /= idx.length;
        double var = 0;
        for (int row : idx) {
            var += (advantages[row] - mean) * (advantages[row] - mean);
        }
        double std = Math.sqrt(var / Math.max(1, idx.length - 1));
        for (int k = 0; k < idx.length; k++) {
            double a = advantages[idx[k]];
            out[k] = (float) (config.normalizeAdvantages() ? (a - mean) / (std + 1e-8) : a);
        }
    }

    private int[] permutation(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = shuffle.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    private void recordReturn(double episodeReturn) {
        episodes++;
        recentReturns.addLast(episodeReturn);
        if (recentReturns.size() > RETURN_WINDOW) {
            recentReturns.removeFirst();
        }
    }

    @Override
    public void close() {
        policy.close();
        envs.close();
    }
}
