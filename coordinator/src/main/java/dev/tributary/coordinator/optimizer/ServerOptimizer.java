package dev.tributary.coordinator.optimizer;

import dev.tributary.tensor.TensorMap;

/**
 * An optimizer the coordinator applies to the global model once per aggregation, following Flower's
 * FedOpt conventions: the input of a step is the aggregate delta {@code Δ = aggregate − θ} (the direction
 * the workers moved), and the pseudo-gradient is {@code g = −Δ}. With {@link #sgd(double) sgd} at lr 1 a
 * step simply moves the model to the aggregate.
 *
 * <p>Call order: {@link #step} any number of times; {@link #exportState} between steps captures
 * everything a later step depends on (moments, momentum buffers, the step counter), and
 * {@link #restoreState} on any instance built with the same hyperparameters makes its subsequent steps
 * bit-identical to those of the exporting instance. Steps are deterministic.
 *
 * <p>Tensors must be f32; the arithmetic runs in f64 per element and rounds once to f32. Inputs are never
 * mutated: a step returns new tensors, so a model once published stays valid.
 */
public interface ServerOptimizer {

    /** {@code sgd}, {@code momentum}, {@code adam}, {@code yogi} or {@code adagrad}. */
    String name();

    /**
     * One optimizer step.
     *
     * @param params the current weights θ
     * @param delta  Δ = aggregate − θ, with exactly the tensor names and shapes of {@code params}
     * @return the new weights, in {@code params}' order, in freshly allocated memory
     * @throws IllegalArgumentException naming the tensor when names, shapes or dtypes do not match
     */
    TensorMap step(TensorMap params, TensorMap delta);

    /** Steps taken so far (Flower's server round minus one). */
    long steps();

    /**
     * The optimizer's state as tensors named {@code <slot>/<param>} (copies) with metadata
     * {@code optimizer} (the name) and {@code steps}.
     */
    TensorMap exportState();

    /**
     * Replaces all state with {@code state} as {@link #exportState} produced it.
     *
     * @throws IllegalArgumentException when the state belongs to another optimizer or is malformed
     */
    void restoreState(TensorMap state);

    /** θ ← θ + lr·Δ. */
    static ServerOptimizer sgd(double lr) {
        return new SgdOptimizer(lr);
    }

    /**
     * FedAvgM (Flower) and the DiLoCo outer optimizer: with g = −Δ, the buffer is b = g on a tensor's first
     * step and b = μb + g afterwards; θ ← θ − lr·b, or θ ← θ − lr·(g + μb) with {@code nesterov}.
     * With μ = 0 no buffer is kept.
     */
    static ServerOptimizer momentum(double lr, double momentum, boolean nesterov) {
        return new MomentumOptimizer(lr, momentum, nesterov);
    }

    /**
     * FedAdam (Flower): m = β₁m + (1−β₁)Δ, v = β₂v + (1−β₂)Δ², θ ← θ + ηᵣ·m/(√v + τ) with
     * ηᵣ = η·√(1−β₂^(r+1))/(1−β₁^(r+1)) and r Flower's server round, which starts at 1: the first step
     * uses β² (this is what Flower's own test vector, 0.0739291, requires).
     */
    static ServerOptimizer adam(double lr, double beta1, double beta2, double tau) {
        return new AdamOptimizer(lr, beta1, beta2, tau);
    }

    /** FedYogi (Flower): m as in Adam, v ← v − (1−β₂)Δ²·sign(v − Δ²), θ ← θ + η·m/(√v + τ), no bias correction. */
    static ServerOptimizer yogi(double lr, double beta1, double beta2, double tau) {
        return new YogiOptimizer(lr, beta1, beta2, tau);
    }

    /** FedAdagrad (Flower): v ← v + Δ², θ ← θ + η·Δ/(√v + τ). */
    static ServerOptimizer adagrad(double lr, double tau) {
        return new AdagradOptimizer(lr, tau);
    }
}
