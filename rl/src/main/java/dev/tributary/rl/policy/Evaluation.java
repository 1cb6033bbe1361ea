package dev.tributary.rl.policy;

import ai.djl.ndarray.NDArray;

/**
 * The policy's view of a batch of (observation, action) pairs, as tensors that carry gradients when
 * recorded: log π(a|s) {@code [B]}, the entropy of π(·|s) {@code [B]} and V(s) {@code [B]}.
 */
public record Evaluation(NDArray logProbs, NDArray entropy, NDArray values) {}
