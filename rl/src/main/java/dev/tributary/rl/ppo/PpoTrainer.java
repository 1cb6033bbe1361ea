package dev.tributary.rl.ppo;

import dev.tributary.rl.env.Environment;
import dev.tributary.rl.env.VectorEnvironment;
import dev.tributary.rl.policy.Acting;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.rl.policy.Adam;
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
    private final PpoUpdate updater;
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
        this.updater = new PpoUpdate(config, policy, adam, new SplittableRandom(config.seed() + 1));
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
        updater.advantages(rollout, advantages, returns);
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
                r.oldLogProbs[row] = acting.logProbs()[i];
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

    private Iteration update(Rollout r, double[] advantages, double[] returns, double lr) {
        // In one process the behaviour policy is π_old itself, so every truncated importance weight is 1;
        // the weights stay in the loss for experience that arrives from lagging actors.
        double[] weights = PpoLoss.truncatedWeights(r.oldLogProbs, r.behaviourLogProbs, config.rhoBar());
        PpoUpdate.Stats s = updater.update(r, advantages, returns, weights, lr);
        double mean = recentReturns.isEmpty() ? Double.NaN
                : recentReturns.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        return new Iteration(iteration, envSteps, episodes, mean, lr, s.policyLoss(), s.valueLoss(), s.entropy(),
                s.approxKl(), s.clipFraction());
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
