package dev.tributary.rl.impala;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.rl.policy.Adam;
import dev.tributary.rl.policy.Evaluation;
import dev.tributary.rl.policy.Head;
import dev.tributary.rl.ppo.PpoConfig;
import dev.tributary.rl.ppo.Rollout;
import dev.tributary.rl.returns.VTrace;

/**
 * IMPALA's learner step (Espeholt et al. 2018) on a batch of trajectories from behaviour policies μ:
 * V-trace targets {@code vs} and policy-gradient advantages with ρ̄ = c̄ = 1 per environment column, then
 * Adam steps on
 * <pre>
 *   L = −mean(Aₛ · log π(aₛ|xₛ)) + valueCoef · ½ mean((V(xₛ) − vₛ)²) − entropyCoef · mean(H(π(·|xₛ)))
 * </pre>
 * with {@code vs} and {@code A} held constant. A truncated step bootstraps from the value of its last
 * observation: it enters V-trace with discount 0 and reward {@code r + γ V(x_last)} (see {@link VTrace}).
 *
 * <p>The rollout must carry, per row, {@code oldLogProbs} = log π(a|x) and {@code values} = V(x) under the
 * policy before this step, and {@code nextValues} = V of the observation the step produced. One thread at a
 * time.
 */
public final class ImpalaUpdate {
    private final PpoConfig config;
    private final ActorCritic policy;
    private final Adam adam;

    /** What one step did: loss terms of the last Adam step, and the mean importance ratio π/μ of the batch. */
    public record Stats(double policyLoss, double valueLoss, double entropy, double meanRatio) {}

    /** Uses {@code config}'s γ, loss coefficients, gradient-norm bound, epochs and minibatches. */
    public ImpalaUpdate(PpoConfig config, ActorCritic policy, Adam adam) {
        this.config = config;
        this.policy = policy;
        this.adam = adam;
    }

    /** V-trace on every column of {@code r}: {@code out[0]} the targets vs, {@code out[1]} the advantages. */
    public double[][] targets(Rollout r) {
        double gamma = config.gamma();
        double[] vs = new double[r.size()];
        double[] pg = new double[r.size()];
        int steps = r.steps;
        for (int i = 0; i < r.envs; i++) {
            double[] logRhos = new double[steps];
            double[] discounts = new double[steps];
            double[] rewards = new double[steps];
            double[] values = new double[steps];
            for (int t = 0; t < steps; t++) {
                int row = r.row(t, i);
                logRhos[t] = r.oldLogProbs[row] - r.behaviourLogProbs[row];
                values[t] = r.values[row];
                boolean cut = r.terminated[row] || r.truncated[row];
                discounts[t] = cut ? 0 : gamma;
                rewards[t] = r.rewards[row]
                        + (r.truncated[row] && !r.terminated[row] ? gamma * r.nextValues[row] : 0);
            }
            VTrace.Result v = VTrace.compute(logRhos, discounts, rewards, values, r.nextValues[r.row(steps - 1, i)],
                    VTrace.Clipping.IMPALA);
            for (int t = 0; t < steps; t++) {
                vs[r.row(t, i)] = v.vs()[t];
                pg[r.row(t, i)] = v.pgAdvantages()[t];
            }
        }
        return new double[][] {vs, pg};
    }

    /** V-trace on {@code r}, then {@code epochs × minibatches} Adam steps with learning rate {@code lr}. */
    public Stats update(Rollout r, double lr) {
        double[][] targets = targets(r);
        double ratios = 0;
        for (int row = 0; row < r.size(); row++) {
            ratios += Math.exp(r.oldLogProbs[row] - r.behaviourLogProbs[row]);
        }
        int size = r.size();
        int mb = Math.max(1, size / config.minibatches());
        double[] last = new double[3];
        for (int epoch = 0; epoch < config.epochs(); epoch++) {
            for (int start = 0; start + mb <= size; start += mb) {
                int from = start;
                Adam.StepStats s = adam.step(p -> loss(p, r, from, mb, targets, last), lr, config.maxGradNorm());
                if (!Double.isFinite(s.loss())) {
                    throw new IllegalStateException("IMPALA loss is not finite at Adam step " + adam.steps() + ": "
                            + s.loss());
                }
            }
        }
        return new Stats(last[0], last[1], last[2], ratios / size);
    }

    private NDArray loss(ActorCritic p, Rollout r, int from, int n, double[][] targets, double[] out) {
        NDManager m = p.manager();
        int obsSize = p.observations();
        int actionSize = r.actions[0].length;
        float[] obs = new float[n * obsSize];
        float[] actions = new float[n * actionSize];
        float[] vs = new float[n];
        float[] adv = new float[n];
        for (int k = 0; k < n; k++) {
            int row = from + k;
            System.arraycopy(r.observations[row], 0, obs, k * obsSize, obsSize);
            System.arraycopy(r.actions[row], 0, actions, k * actionSize, actionSize);
            vs[k] = (float) targets[0][row];
            adv[k] = (float) targets[1][row];
        }
        NDArray actionArray = p.head() instanceof Head.Categorical
                ? m.create(actions, new Shape(n))
                : m.create(actions, new Shape(n, actionSize));
        Evaluation e = p.evaluate(m.create(obs, new Shape(n, obsSize)), actionArray);
        NDArray policyLoss = e.logProbs().mul(m.create(adv)).mean().neg();
        NDArray valueLoss = e.values().sub(m.create(vs)).square().mean().mul(0.5f);
        NDArray entropy = e.entropy().mean();
        out[0] = policyLoss.getFloat();
        out[1] = valueLoss.getFloat();
        out[2] = entropy.getFloat();
        return policyLoss.add(valueLoss.mul((float) config.valueCoef())).sub(entropy.mul((float) config.entropyCoef()));
    }
}
