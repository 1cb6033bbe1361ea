package dev.tributary.train.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * The state of one {@link OptimizerConfig} over a fixed list of parameters. Updates run as one fused
 * native call per parameter, in place, with autograd off.
 */
final class OptimizerState {
    private static final float NO_RESCALE = 1f;
    private static final float NO_CLIP = -1f;

    private final OptimizerConfig config;
    private final NDArray[] params;
    private final NDArray[] first;
    private final NDArray[] second;
    private long t;

    OptimizerState(OptimizerConfig config, NDArray[] params, NDManager manager) {
        this.config = config;
        this.params = params.clone();
        this.first = new NDArray[params.length];
        this.second = new NDArray[params.length];
        for (int i = 0; i < params.length; i++) {
            first[i] = manager.zeros(params[i].getShape());
            if (config instanceof OptimizerConfig.AdamW) {
                second[i] = manager.zeros(params[i].getShape());
            }
        }
    }

    /** Applies one update from the gradients the last backward pass left, then zeroes them. */
    void step() {
        t++;
        switch (config) {
            case OptimizerConfig.Sgd sgd -> {
                for (int i = 0; i < params.length; i++) {
                    PtNDArray p = (PtNDArray) params[i];
                    // DJL's fused update keeps lr·buf as its state; with a constant lr that is PyTorch's rule.
                    JniUtils.sgdUpdate(p, p.getGradient(), (PtNDArray) first[i], sgd.lr(),
                            sgd.weightDecay(), NO_RESCALE, NO_CLIP, sgd.momentum());
                    JniUtils.zeroGrad(p);
                }
            }
            case OptimizerConfig.AdamW adam -> {
                double bc1 = 1 - Math.pow(adam.beta1(), t);
                double sqrtBc2 = Math.sqrt(1 - Math.pow(adam.beta2(), t));
                // The fused update computes w −= lr'·m / (√v + ε'); PyTorch's w −= lr/bc1 · m / (√v/√bc2 + ε)
                // is the same with lr' = lr·√bc2/bc1 and ε' = ε·√bc2.
                float lrCorrected = (float) (adam.lr() * sqrtBc2 / bc1);
                float epsCorrected = (float) (adam.eps() * sqrtBc2);
                for (int i = 0; i < params.length; i++) {
                    PtNDArray p = (PtNDArray) params[i];
                    JniUtils.adamUpdate(p, p.getGradient(), (PtNDArray) first[i],
                            (PtNDArray) second[i], adam.lr(), lrCorrected, adam.weightDecay(), NO_RESCALE, NO_CLIP,
                            adam.beta1(), adam.beta2(), epsCorrected, true);
                    JniUtils.zeroGrad(p);
                }
            }
        }
    }
}
