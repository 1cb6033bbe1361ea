package dev.tributary.rl.ppo;

/**
 * PPO's settings. {@link #cleanRl()} gives CleanRL's {@code ppo.py} defaults for CartPole.
 *
 * @param envs              environments stepped together
 * @param steps             steps per environment per rollout (a rollout holds {@code envs × steps} steps)
 * @param epochs            passes over each rollout
 * @param minibatches       minibatches per pass
 * @param learningRate      Adam's learning rate at the start
 * @param annealLearningRate decay the learning rate linearly to 0 over {@code totalSteps}
 * @param gamma             discount γ
 * @param gaeLambda         GAE's λ
 * @param clip              ε of the clipped surrogate (and of the value clipping)
 * @param entropyCoef       weight of the entropy bonus
 * @param valueCoef         weight of the value loss
 * @param maxGradNorm       the global gradient norm is clipped to this
 * @param normalizeAdvantages normalize advantages per minibatch
 * @param clipValueLoss     clip the value loss around the rollout's values, as CleanRL does
 * @param rhoBar            ρ̄ of the truncated importance weight {@code min(π_old/μ, ρ̄)} for stale experience
 * @param totalSteps        environment steps the learning-rate schedule spans
 * @param hidden            hidden layer widths of actor and critic
 * @param seed              seeds the weights, the action sampling, the environments and the minibatches
 */
public record PpoConfig(int envs, int steps, int epochs, int minibatches, double learningRate,
                        boolean annealLearningRate, double gamma, double gaeLambda, double clip, double entropyCoef,
                        double valueCoef, double maxGradNorm, boolean normalizeAdvantages, boolean clipValueLoss,
                        double rhoBar, long totalSteps, int[] hidden, long seed) {

    public PpoConfig {
        positive("envs", envs);
        positive("steps", steps);
        positive("epochs", epochs);
        positive("minibatches", minibatches);
        if ((long) envs * steps % minibatches != 0) {
            throw new IllegalArgumentException("minibatches must divide envs × steps: " + minibatches + " ∤ "
                    + (long) envs * steps);
        }
        if (!(learningRate > 0)) {
            throw new IllegalArgumentException("learningRate must be > 0: " + learningRate);
        }
        unit("gamma", gamma);
        unit("gaeLambda", gaeLambda);
        if (!(clip > 0) || !(entropyCoef >= 0) || !(valueCoef >= 0) || !(maxGradNorm > 0) || !(rhoBar > 0)) {
            throw new IllegalArgumentException("clip, maxGradNorm and rhoBar must be > 0, entropyCoef and valueCoef"
                    + " >= 0: " + clip + ", " + maxGradNorm + ", " + rhoBar + ", " + entropyCoef + ", " + valueCoef);
        }
        if (totalSteps <= 0) {
            throw new IllegalArgumentException("totalSteps must be > 0: " + totalSteps);
        }
        hidden = hidden.clone();
    }

    /**
     * CleanRL's PPO defaults for CartPole: 4 envs × 128 steps, 4 epochs, 4 minibatches, lr 2.5e-4 annealed,
     * γ 0.99, λ 0.95, clip 0.2, entropy 0.01, value 0.5, gradient norm 0.5, 500k steps, 64-64 tanh, seed 1.
     */
    public static PpoConfig cleanRl() {
        return new PpoConfig(4, 128, 4, 4, 2.5e-4, true, 0.99, 0.95, 0.2, 0.01, 0.5, 0.5, true, true, 1.0,
                500_000, new int[] {64, 64}, 1);
    }

    @Override
    public int[] hidden() {
        return hidden.clone();
    }

    /** Steps in one rollout. */
    public int batchSize() {
        return envs * steps;
    }

    /** Rows in one minibatch. */
    public int minibatchSize() {
        return batchSize() / minibatches;
    }

    public PpoConfig withTotalSteps(long total) {
        return new PpoConfig(envs, steps, epochs, minibatches, learningRate, annealLearningRate, gamma, gaeLambda,
                clip, entropyCoef, valueCoef, maxGradNorm, normalizeAdvantages, clipValueLoss, rhoBar, total, hidden,
                seed);
    }

    public PpoConfig withSeed(long s) {
        return new PpoConfig(envs, steps, epochs, minibatches, learningRate, annealLearningRate, gamma, gaeLambda,
                clip, entropyCoef, valueCoef, maxGradNorm, normalizeAdvantages, clipValueLoss, rhoBar, totalSteps,
                hidden, s);
    }

    private static void positive(String what, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(what + " must be > 0: " + v);
        }
    }

    private static void unit(String what, double v) {
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException(what + " must be in [0, 1]: " + v);
        }
    }
}
