package dev.tributary.rl.learner;

import dev.tributary.rl.env.Space;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.impala.ImpalaUpdate;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.rl.policy.Adam;
import dev.tributary.rl.ppo.PpoConfig;
import dev.tributary.rl.ppo.PpoLoss;
import dev.tributary.rl.ppo.PpoUpdate;
import dev.tributary.rl.ppo.Rollout;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The learner's policy, its optimizer and one training step on a batch of experience, with PPO (clipped
 * surrogate, GAE, each step weighted by the detached {@code min(π_old/μ, ρ̄)}) or IMPALA (V-trace with
 * ρ̄ = c̄ = 1). π_old is the policy when the step begins; μ the one that acted (its log-probabilities come
 * with the experience). One thread at a time.
 */
final class Training implements AutoCloseable {
    static final String FORMAT = "tributary-learner-1";
    private static final String POLICY = "policy/";
    private static final String OPTIMIZER = "optimizer/";

    private final LearnerConfig config;
    private final PpoConfig opt;
    private final ActorCritic policy;
    private final Adam adam;
    private final PpoUpdate ppo;
    private final ImpalaUpdate impala;
    private long consumedSteps;
    private volatile long steps;

    /** What one step did. */
    record Step(int rows, double learningRate, double policyLoss, double valueLoss, double entropy) {}

    Training(LearnerConfig config, Space observations, Space actions) {
        this.config = config;
        this.opt = config.optimization();
        this.policy = ActorCritic.create(observations, actions, opt.seed(), opt.hidden());
        this.adam = new Adam(policy, 0.9, 0.999, 1e-5);
        this.ppo = new PpoUpdate(opt, policy, adam, new SplittableRandom(opt.seed() + 1));
        this.impala = new ImpalaUpdate(opt, policy, adam);
    }

    ActorCritic policy() {
        return policy;
    }

    /** Training steps taken (those before a restart included). */
    long steps() {
        return steps;
    }

    /** Optimizer (Adam) steps taken, those before a restart included: several per training step for PPO. */
    long optimizerSteps() {
        return adam.steps();
    }

    /** One training step on {@code batch} (all of T = {@code stepsPerItem}). */
    Step step(List<Experience> batch) {
        Rollout r = rollout(batch);
        double lr = opt.annealLearningRate()
                ? opt.learningRate() * Math.max(0, 1.0 - (double) consumedSteps / opt.totalSteps())
                : opt.learningRate();
        Step s;
        if (config.algo().equals("impala")) {
            ImpalaUpdate.Stats st = impala.update(r, lr);
            s = new Step(r.size(), lr, st.policyLoss(), st.valueLoss(), st.entropy());
        } else {
            double[] advantages = new double[r.size()];
            double[] returns = new double[r.size()];
            ppo.advantages(r, advantages, returns);
            double[] weights = PpoLoss.truncatedWeights(r.oldLogProbs, r.behaviourLogProbs, opt.rhoBar());
            PpoUpdate.Stats st = ppo.update(r, advantages, returns, weights, lr);
            s = new Step(r.size(), lr, st.policyLoss(), st.valueLoss(), st.entropy());
        }
        consumedSteps += r.size();
        steps++;
        return s;
    }

    /**
     * The batch side by side ({@code T × ΣE}), with log π_old, V(x) and V(next x) under the current policy.
     */
    private Rollout rollout(List<Experience> batch) {
        int steps = config.stepsPerItem();
        int columns = batch.stream().mapToInt(Experience::envs).sum();
        Rollout r = new Rollout(steps, columns);
        float[][] next = new float[r.size()][];
        int c0 = 0;
        for (Experience x : batch) {
            if (x.steps() != steps) {
                throw new IllegalArgumentException("experience of " + x.steps() + " steps != steps_per_item " + steps);
            }
            int d = x.observationSize();
            int a = x.actionSize();
            for (int t = 0; t < steps; t++) {
                for (int e = 0; e < x.envs(); e++) {
                    int src = x.row(t, e);
                    int row = r.row(t, c0 + e);
                    r.observations[row] = slice(x.observations(), src, d);
                    next[row] = slice(x.nextObservations(), src, d);
                    r.actions[row] = slice(x.actions(), src, a);
                    r.behaviourLogProbs[row] = x.behaviourLogProbs()[src];
                    r.rewards[row] = x.rewards()[src];
                    r.terminated[row] = x.terminated()[src];
                    r.truncated[row] = x.truncated()[src];
                }
            }
            c0 += x.envs();
        }
        float[][] scored = policy.logProbsAndValues(r.observations, r.actions);
        float[] nextValues = policy.values(next);
        for (int row = 0; row < r.size(); row++) {
            r.oldLogProbs[row] = scored[0][row];
            r.values[row] = scored[1][row];
            r.nextValues[row] = nextValues[row];
        }
        return r;
    }

    private static float[] slice(float[] flat, int row, int width) {
        float[] out = new float[width];
        System.arraycopy(flat, row * width, out, 0, width);
        return out;
    }

    /** The state to checkpoint: policy, optimizer, counters and {@code progress}, at {@code version}. */
    TensorMap state(long version, Progress progress) {
        TensorMap out = new TensorMap();
        policy.weights().asMap().forEach((n, t) -> out.put(POLICY + n, t));
        TensorMap a = adam.state();
        a.asMap().forEach((n, t) -> out.put(OPTIMIZER + n, t));
        a.metadata().forEach((k, v) -> out.putMetadata(OPTIMIZER + k, v));
        progress.saveTo(out);
        out.putMetadata("format", FORMAT);
        out.putMetadata("algo", config.algo());
        out.putMetadata("version", Long.toString(version));
        out.putMetadata("train_steps", Long.toString(steps));
        out.putMetadata("consumed_steps", Long.toString(consumedSteps));
        return out;
    }

    /**
     * Resumes from a {@link #state}: policy, optimizer, counters and {@code progress}.
     *
     * @return the checkpointed version
     * @throws IllegalArgumentException when the state is of another format, algorithm or network
     */
    long restore(TensorMap state, Progress progress) {
        Map<String, String> meta = state.metadata();
        if (!FORMAT.equals(meta.get("format"))) {
            throw new IllegalArgumentException("learner state: format " + meta.get("format") + " != " + FORMAT);
        }
        if (!config.algo().equals(meta.get("algo"))) {
            throw new IllegalArgumentException("learner state was trained with " + meta.get("algo") + ", not "
                    + config.algo());
        }
        TensorMap weights = new TensorMap();
        TensorMap optimizer = new TensorMap();
        state.asMap().forEach((n, t) -> {
            if (n.startsWith(POLICY)) {
                weights.put(n.substring(POLICY.length()), t);
            } else if (n.startsWith(OPTIMIZER)) {
                optimizer.put(n.substring(OPTIMIZER.length()), t);
            }
        });
        meta.forEach((k, v) -> {
            if (k.startsWith(OPTIMIZER)) {
                optimizer.putMetadata(k.substring(OPTIMIZER.length()), v);
            }
        });
        policy.setWeights(weights);
        adam.restore(optimizer);
        progress.restore(state);
        steps = Long.parseLong(meta.getOrDefault("train_steps", "0"));
        consumedSteps = Long.parseLong(meta.getOrDefault("consumed_steps", "0"));
        return Long.parseLong(meta.getOrDefault("version", "0"));
    }

    @Override
    public void close() {
        policy.close();
    }
}
