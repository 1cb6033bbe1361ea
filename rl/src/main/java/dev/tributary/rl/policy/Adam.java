package dev.tributary.rl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.function.Function;

/**
 * Adam (Kingma and Ba 2015, PyTorch's form: bias-corrected moments, ε added to √v̂) over an
 * {@link ActorCritic}'s parameters, with gradient clipping by the global L2 norm as
 * {@code torch.nn.utils.clip_grad_norm_} does it. Scalars enter the tensor arithmetic as floats: PyTorch would
 * promote a 0-dimensional result to double otherwise. The learning rate is given per step, so that a schedule
 * (CleanRL anneals it linearly) stays with the caller.
 */
public final class Adam {
    private static final String FIRST = "adam.m.";
    private static final String SECOND = "adam.v.";
    private static final String STEPS = "adam.steps";

    private final ActorCritic policy;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final NDArray[] first;
    private final NDArray[] second;
    private volatile long steps;

    /** Adam with the given β₁, β₂ and ε (CleanRL's PPO: 0.9, 0.999, 1e-5). */
    public Adam(ActorCritic policy, double beta1, double beta2, double eps) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("adam betas must be in [0, 1): " + beta1 + ", " + beta2);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("adam eps must be > 0: " + eps);
        }
        this.policy = policy;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        List<NDArray> params = policy.parameters();
        this.first = new NDArray[params.size()];
        this.second = new NDArray[params.size()];
        for (int i = 0; i < first.length; i++) {
            first[i] = policy.manager().zeros(params.get(i).getShape());
            second[i] = policy.manager().zeros(params.get(i).getShape());
        }
    }

    /**
     * Records {@code loss} (a scalar built from the policy, e.g. through {@link ActorCritic#evaluate}),
     * back-propagates it, clips the gradients to {@code maxGradNorm} (infinite: no clipping) and takes one
     * step of size {@code lr}.
     *
     * @return the loss and the gradient norm before clipping
     */
    public StepStats step(Function<ActorCritic, NDArray> loss, double lr, double maxGradNorm) {
        if (!(lr >= 0) || !(maxGradNorm > 0)) {
            throw new IllegalArgumentException("lr must be >= 0 and maxGradNorm > 0: " + lr + ", " + maxGradNorm);
        }
        List<NDArray> params = policy.parameters();
        boolean before = Torch.gradMode(true);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray value = loss.apply(policy);
            JniUtils.backward((PtNDArray) value, (PtNDArray) value.onesLike(), false, false);
            Torch.gradMode(false);
            float lossValue = value.getFloat();
            double sumSquares = 0;
            for (NDArray p : params) {
                sumSquares += p.getGradient().square().sum().getFloat();
            }
            double norm = Math.sqrt(sumSquares);
            double scale = norm > maxGradNorm ? maxGradNorm / (norm + 1e-6) : 1.0;
            steps++;
            double bc1 = 1 - Math.pow(beta1, steps);
            double bc2 = 1 - Math.pow(beta2, steps);
            for (int i = 0; i < params.size(); i++) {
                NDArray p = params.get(i);
                NDArray g = p.getGradient().mul((float) scale);
                first[i].muli((float) beta1).addi(g.mul((float) (1 - beta1)));
                second[i].muli((float) beta2).addi(g.square().mul((float) (1 - beta2)));
                NDArray denominator = second[i].div((float) bc2).sqrt().add((float) eps);
                p.subi(first[i].div(denominator).mul((float) (lr / bc1)));
                JniUtils.zeroGrad((PtNDArray) p);
            }
            return new StepStats(lossValue, norm);
        } finally {
            Torch.gradMode(before);
        }
    }

    /** Steps taken. */
    public long steps() {
        return steps;
    }

    /**
     * The optimizer's state, to checkpoint: the moments as f32 tensors {@code adam.m.<parameter>} and
     * {@code adam.v.<parameter>}, and the step count in the metadata {@code adam.steps}.
     */
    public TensorMap state() {
        TensorMap out = new TensorMap();
        List<TensorInfo> infos = policy.parameterInfos();
        for (int i = 0; i < first.length; i++) {
            out.put(FIRST + infos.get(i).name(), Tensor.ofFloats(infos.get(i).shape(), first[i].toFloatArray()));
            out.put(SECOND + infos.get(i).name(), Tensor.ofFloats(infos.get(i).shape(), second[i].toFloatArray()));
        }
        out.putMetadata(STEPS, Long.toString(steps));
        return out;
    }

    /**
     * Resumes from a {@link #state()} of an optimizer over a policy of the same layout; tensors other than
     * the optimizer's are ignored.
     *
     * @throws IllegalArgumentException naming a missing tensor or a shape that does not match; the state is
     *                                  then unchanged
     */
    public void restore(TensorMap state) {
        List<TensorInfo> infos = policy.parameterInfos();
        float[][] m = new float[first.length][];
        float[][] v = new float[first.length][];
        for (int i = 0; i < first.length; i++) {
            m[i] = moment(state, FIRST + infos.get(i).name(), infos.get(i).shape());
            v[i] = moment(state, SECOND + infos.get(i).name(), infos.get(i).shape());
        }
        String s = state.metadata().get(STEPS);
        long restoredSteps;
        try {
            restoredSteps = Long.parseLong(String.valueOf(s));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("adam state: metadata " + STEPS + " is not a step count: " + s);
        }
        for (int i = 0; i < first.length; i++) {
            first[i].set(m[i]);
            second[i].set(v[i]);
        }
        steps = restoredSteps;
    }

    private static float[] moment(TensorMap state, String name, long[] shape) {
        Tensor t = state.get(name);
        if (t == null) {
            throw new IllegalArgumentException("adam state: missing tensor " + name);
        }
        if (!Shapes.same(t.shape(), shape)) {
            throw new IllegalArgumentException("adam state: tensor " + name + ": shape " + Shapes.toString(t.shape())
                    + " != " + Shapes.toString(shape));
        }
        return t.toFloatArray();
    }

    /** What one step saw: the loss and the global gradient norm before clipping. */
    public record StepStats(double loss, double gradNorm) {}
}
