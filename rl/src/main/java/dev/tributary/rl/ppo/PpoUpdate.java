package dev.tributary.rl.ppo;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.rl.policy.Adam;
import dev.tributary.rl.policy.Evaluation;
import dev.tributary.rl.policy.Head;
import dev.tributary.rl.returns.Gae;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * PPO's update on one rollout, wherever the rollout came from (this process's environments or actors far
 * away): GAE per environment column, then {@code epochs} passes of shuffled minibatches through the
 * {@link Surrogate} loss with the truncated importance weights, one Adam step per minibatch.
 *
 * <p>Call order: {@link #advantages}, then {@link #update} with them, per rollout. One thread at a time.
 */
public final class PpoUpdate {
    private final PpoConfig config;
    private final ActorCritic policy;
    private final Adam adam;
    private final SplittableRandom shuffle;

    /**
     * What one update did: means over its minibatches of the loss terms, CleanRL's approximate KL on the
     * last minibatch, and the share of the last pass's rows whose ratio left [1 − ε, 1 + ε].
     */
    public record Stats(double policyLoss, double valueLoss, double entropy, double approxKl, double clipFraction) {}

    public PpoUpdate(PpoConfig config, ActorCritic policy, Adam adam, SplittableRandom shuffle) {
        this.config = config;
        this.policy = policy;
        this.adam = adam;
        this.shuffle = shuffle;
    }

    /** GAE advantages and returns of every row of {@code r}, from its values and next values. */
    public void advantages(Rollout r, double[] advantages, double[] returns) {
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

    /**
     * The epochs of minibatch steps on {@code r} with learning rate {@code lr}; {@code weights} are the
     * truncated importance weights {@code min(π_old/μ, ρ̄)} per row (see {@link PpoLoss#truncatedWeights}).
     * The minibatch size is {@link PpoConfig#minibatchSize()} unless the rollout's size differs from
     * {@link PpoConfig#batchSize()}; then the rollout is cut into {@link PpoConfig#minibatches()} parts.
     */
    public Stats update(Rollout r, double[] advantages, double[] returns, double[] weights, double lr) {
        int size = r.size();
        int mb = Math.max(1, size / config.minibatches());
        double policySum = 0;
        double valueSum = 0;
        double entropySum = 0;
        int updates = 0;
        double kl = 0;
        long clipped = 0;
        long rows = 0;
        for (int epoch = 0; epoch < config.epochs(); epoch++) {
            int[] order = permutation(size);
            clipped = 0;
            rows = 0;
            for (int start = 0; start + mb <= size; start += mb) {
                int[] idx = Arrays.copyOfRange(order, start, start + mb);
                double[][] terms = new double[1][];
                Adam.StepStats s = adam.step(p -> minibatchLoss(p, r, idx, advantages, returns, weights, terms),
                        lr, config.maxGradNorm());
                policySum += terms[0][0];
                valueSum += terms[0][1];
                entropySum += terms[0][2];
                kl = terms[0][3];
                clipped += (long) terms[0][4];
                rows += mb;
                updates++;
                if (!Double.isFinite(s.loss())) {
                    throw new IllegalStateException("PPO loss is not finite at Adam step " + adam.steps() + ": "
                            + s.loss());
                }
            }
        }
        return new Stats(policySum / updates, valueSum / updates, entropySum / updates, kl,
                rows == 0 ? 0 : (double) clipped / rows);
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
            oldLogProbs[k] = (float) r.oldLogProbs[row];
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
}
