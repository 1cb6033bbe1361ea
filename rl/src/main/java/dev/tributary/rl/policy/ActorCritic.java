package dev.tributary.rl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import dev.tributary.rl.env.Action;
import dev.tributary.rl.env.Space;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * An MLP actor-critic on DJL's PyTorch engine (CPU): a critic {@code obs → hidden… → 1} and an actor
 * {@code obs → hidden… → head outputs}, separate networks with tanh between layers, as in CleanRL's PPO.
 * The head is categorical over logits for discrete actions, or Gaussian with a state-independent log
 * standard deviation for continuous ones.
 *
 * <p>Parameters are named and ordered as PyTorch names CleanRL's {@code Agent}: {@code critic.0.weight},
 * {@code critic.0.bias}, {@code critic.2.weight}, …, then {@code actor.*} (categorical) or
 * {@code actor_mean.*} and {@code actor_logstd [1, dims]} (Gaussian); weights are {@code [out, in]}. They are
 * initialized orthogonally from the seed (gain √2 for hidden layers, 0.01 for the actor's output, 1 for the
 * critic's, zero biases and log-std) and cross as a {@link TensorMap} of f32 tensors: {@link #weights()} and
 * {@link #setWeights(TensorMap)} copy them bit for bit, so they can travel over the weight plane.
 *
 * <p>Sampling draws from a generator seeded with the same seed (see {@link #reseed}), in Java, so that the
 * same seed, weights and observations give the same actions. Use from one thread at a time; {@link #close()}
 * frees the native memory.
 */
public final class ActorCritic implements AutoCloseable {
    private static final float HALF_LOG_2PI = (float) (0.5 * Math.log(2 * Math.PI));

    private final int observations;
    private final Head head;
    private final int[] hidden;
    private final NDManager manager;
    private final List<TensorInfo> infos;
    private final NDArray[] params;
    private final int criticLayers;
    private SplittableRandom sampler;

    private ActorCritic(int observations, Head head, int[] hidden, long seed) {
        if (observations < 1) {
            throw new IllegalArgumentException("observations < 1: " + observations);
        }
        if (hidden.length == 0) {
            throw new IllegalArgumentException("an actor-critic needs at least one hidden layer");
        }
        for (int h : hidden) {
            if (h < 1) {
                throw new IllegalArgumentException("hidden layer width < 1: " + h);
            }
        }
        this.observations = observations;
        this.head = head;
        this.hidden = hidden.clone();
        this.criticLayers = hidden.length + 1;
        this.infos = layout();
        this.manager = Torch.engine().newBaseManager();
        this.params = new NDArray[infos.size()];
        try {
            setWeights(init(seed));
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        reseed(seed);
    }

    /**
     * A policy for an environment's spaces (the observation space must be a box).
     *
     * @param hidden widths of the hidden layers, e.g. {@code 64, 64}
     */
    public static ActorCritic create(Space observationSpace, Space actionSpace, long seed, int... hidden) {
        if (!(observationSpace instanceof Space.Box box)) {
            throw new IllegalArgumentException("observation space " + observationSpace + " is not a box");
        }
        return new ActorCritic(box.size(), Head.forSpace(actionSpace), hidden, seed);
    }

    /** A policy over {@code observations} inputs with the given head. */
    public static ActorCritic create(int observations, Head head, long seed, int... hidden) {
        return new ActorCritic(observations, head, hidden, seed);
    }

    public Head head() {
        return head;
    }

    /** Values per observation. */
    public int observations() {
        return observations;
    }

    /** The parameters' names, shapes and dtype (f32), in order. */
    public List<TensorInfo> parameterInfos() {
        return infos;
    }

    /** Restarts the action sampler from {@code seed}. */
    public void reseed(long seed) {
        sampler = new SplittableRandom(seed ^ 0x5DEECE66DL);
    }

    /** A copy of the current weights as f32 tensors, in {@link #parameterInfos()} order. */
    public TensorMap weights() {
        TensorMap out = new TensorMap();
        for (int i = 0; i < params.length; i++) {
            out.put(infos.get(i).name(), Tensor.ofFloats(infos.get(i).shape(), params[i].toFloatArray()));
        }
        return out;
    }

    /**
     * Replaces the weights with copies of {@code weights}: exactly this policy's tensors, with their shapes,
     * any floating-point dtype (converted to f32), every value finite.
     *
     * @throws IllegalArgumentException naming the first offending tensor and the rule; the weights are then
     *                                  unchanged
     */
    public void setWeights(TensorMap weights) {
        List<float[]> values = new ArrayList<>(infos.size());
        for (TensorInfo p : infos) {
            Tensor t = weights.get(p.name());
            if (t == null) {
                throw new IllegalArgumentException("policy weights: missing tensor " + p.name());
            }
            if (!Shapes.same(t.shape(), p.shape())) {
                throw new IllegalArgumentException("tensor " + p.name() + ": shape " + Shapes.toString(t.shape())
                        + " != " + Shapes.toString(p.shape()));
            }
            if (!t.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException("tensor " + p.name() + ": dtype " + t.dtype()
                        + " is not a floating-point type");
            }
            float[] v = t.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    throw new IllegalArgumentException("tensor " + p.name() + ": element " + i + " is not finite: "
                            + v[i]);
                }
            }
            values.add(v);
        }
        if (weights.size() != infos.size()) {
            List<String> names = infos.stream().map(TensorInfo::name).toList();
            String extra = weights.names().stream().filter(n -> !names.contains(n)).findFirst().orElse("?");
            throw new IllegalArgumentException("policy weights: unexpected tensor " + extra);
        }
        for (int i = 0; i < params.length; i++) {
            NDArray fresh = manager.create(values.get(i), new Shape(infos.get(i).shape()));
            fresh.setRequiresGradient(true);
            if (params[i] != null) {
                params[i].close();
            }
            params[i] = fresh;
        }
    }

    /** The live parameter arrays, in {@link #parameterInfos()} order, for an optimizer. */
    List<NDArray> parameters() {
        return List.of(params);
    }

    /**
     * Samples an action for each row of {@code batch} ({@code [B][observations]}) and returns it with its
     * log-probability and the critic's value. No gradients are recorded.
     */
    public Acting act(float[][] batch) {
        boolean before = Torch.gradMode(false);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray x = input(batch);
            float[] values = critic(x).toFloatArray();
            NDArray out = actor(x);
            int b = batch.length;
            Action[] actions = new Action[b];
            float[] logProbs = new float[b];
            switch (head) {
                case Head.Categorical c -> {
                    float[] logp = out.logSoftmax(1).toFloatArray();
                    for (int i = 0; i < b; i++) {
                        int a = sampleCategorical(logp, i * c.actions(), c.actions());
                        actions[i] = Action.of(a);
                        logProbs[i] = logp[i * c.actions() + a];
                    }
                }
                case Head.Gaussian g -> {
                    float[] mean = out.toFloatArray();
                    float[] std = logStd().exp().toFloatArray();
                    float[] sampled = new float[b * g.dims()];
                    for (int i = 0; i < sampled.length; i++) {
                        sampled[i] = (float) (mean[i] + std[i % g.dims()] * sampler.nextGaussian());
                    }
                    NDArray a = manager.create(sampled, new Shape(b, g.dims()));
                    float[] lp = gaussianLogProb(out, a).toFloatArray();
                    for (int i = 0; i < b; i++) {
                        float[] row = new float[g.dims()];
                        System.arraycopy(sampled, i * g.dims(), row, 0, g.dims());
                        actions[i] = Action.of(row);
                        logProbs[i] = lp[i];
                    }
                }
            }
            return new Acting(actions, logProbs, values);
        } finally {
            Torch.gradMode(before);
        }
    }

    /** The critic's values for a batch of observations, without gradients. */
    public float[] values(float[][] batch) {
        boolean before = Torch.gradMode(false);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            return critic(input(batch)).toFloatArray();
        } finally {
            Torch.gradMode(before);
        }
    }

    /**
     * log π(a|s) and V(s) for a batch of observations ({@code [B][observations]}) and the actions taken in them
     * ({@code [B][1]} indices for a categorical head, {@code [B][dims]} for a Gaussian one), without gradients.
     *
     * @return {@code [0]} the log-probabilities, {@code [1]} the values
     */
    public float[][] logProbsAndValues(float[][] observations, float[][] actions) {
        if (actions.length != observations.length) {
            throw new IllegalArgumentException("actions: " + actions.length + " rows != " + observations.length);
        }
        int dims = head instanceof Head.Categorical ? 1 : head.outputs();
        float[] flat = new float[actions.length * dims];
        for (int i = 0; i < actions.length; i++) {
            if (actions[i].length != dims) {
                throw new IllegalArgumentException("action " + i + ": length " + actions[i].length + " != " + dims);
            }
            System.arraycopy(actions[i], 0, flat, i * dims, dims);
        }
        boolean before = Torch.gradMode(false);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray x = input(observations);
            NDArray a = head instanceof Head.Categorical
                    ? manager.create(flat, new Shape(actions.length))
                    : manager.create(flat, new Shape(actions.length, dims));
            Evaluation e = evaluate(x, a);
            return new float[][] {e.logProbs().toFloatArray(), e.values().toFloatArray()};
        } finally {
            Torch.gradMode(before);
        }
    }

    /**
     * The actor's raw outputs for a batch: logits {@code [B][actions]} for a categorical head, means
     * {@code [B][dims]} for a Gaussian one. For inspection and tests.
     */
    public float[][] actorOutputs(float[][] batch) {
        boolean before = Torch.gradMode(false);
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            float[] flat = actor(input(batch)).toFloatArray();
            float[][] out = new float[batch.length][head.outputs()];
            for (int i = 0; i < batch.length; i++) {
                System.arraycopy(flat, i * head.outputs(), out[i], 0, head.outputs());
            }
            return out;
        } finally {
            Torch.gradMode(before);
        }
    }

    /** The Gaussian head's log standard deviations; empty for a categorical head. */
    public float[] logStds() {
        return head instanceof Head.Gaussian ? logStd().toFloatArray() : new float[0];
    }

    /**
     * Log-probabilities of {@code actions} ({@code [B]} int64 for a categorical head, {@code [B, dims]} f32 for a
     * Gaussian one), entropies and values for {@code observations} {@code [B, observations]}; gradients flow
     * when autograd is recording (see {@link Adam#step}).
     */
    public Evaluation evaluate(NDArray observations, NDArray actions) {
        NDArray out = actor(observations);
        NDArray values = critic(observations);
        return switch (head) {
            case Head.Categorical c -> {
                NDArray logp = out.logSoftmax(1);
                NDArray chosen = logp.gather(actions.toType(DataType.INT64, false).reshape(-1, 1), 1).reshape(-1);
                NDArray entropy = logp.exp().mul(logp).sum(new int[] {1}).neg();
                yield new Evaluation(chosen, entropy, values);
            }
            case Head.Gaussian g -> {
                NDArray entropy = logStd().add(0.5f + HALF_LOG_2PI).sum().broadcast(new Shape(out.getShape().get(0)));
                yield new Evaluation(gaussianLogProb(out, actions), entropy, values);
            }
        };
    }

    /** The manager that owns the parameters; create inputs for {@link #evaluate} in it or a sub-manager. */
    public NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        manager.close();
    }

    @Override
    public String toString() {
        return "ActorCritic[" + observations + " → " + java.util.Arrays.toString(hidden) + " → " + head + "]";
    }

    private NDArray gaussianLogProb(NDArray mean, NDArray actions) {
        NDArray logStd = logStd();
        NDArray z = actions.sub(mean).div(logStd.exp());
        return z.square().mul(-0.5f).sub(logStd).sub(HALF_LOG_2PI).sum(new int[] {1});
    }

    private int sampleCategorical(float[] logp, int offset, int n) {
        double total = 0;
        for (int a = 0; a < n; a++) {
            total += Math.exp(logp[offset + a]);
        }
        double u = sampler.nextDouble() * total;
        double cumulative = 0;
        for (int a = 0; a < n - 1; a++) {
            cumulative += Math.exp(logp[offset + a]);
            if (u < cumulative) {
                return a;
            }
        }
        return n - 1;
    }

    private NDArray input(float[][] batch) {
        if (batch.length == 0) {
            throw new IllegalArgumentException("empty batch of observations");
        }
        float[] flat = new float[batch.length * observations];
        for (int i = 0; i < batch.length; i++) {
            if (batch[i].length != observations) {
                throw new IllegalArgumentException("observation " + i + ": length " + batch[i].length + " != "
                        + observations);
            }
            System.arraycopy(batch[i], 0, flat, i * observations, observations);
        }
        return manager.create(flat, new Shape(batch.length, observations));
    }

    private NDArray critic(NDArray x) {
        return mlp(x, 0).reshape(-1);
    }

    private NDArray actor(NDArray x) {
        return mlp(x, 2 * criticLayers);
    }

    private NDArray logStd() {
        return params[params.length - 1];
    }

    /** The MLP whose weight is {@code params[first]}, with {@link #hidden} tanh layers and a linear output. */
    private NDArray mlp(NDArray x, int first) {
        for (int layer = 0; layer <= hidden.length; layer++) {
            NDArray w = params[first + 2 * layer];
            NDArray b = params[first + 2 * layer + 1];
            x = Linear.linear(x, w, b).singletonOrThrow();
            if (layer < hidden.length) {
                x = x.tanh();
            }
        }
        return x;
    }

    private List<TensorInfo> layout() {
        List<TensorInfo> out = new ArrayList<>();
        addMlp(out, "critic", 1);
        boolean gaussian = head instanceof Head.Gaussian;
        addMlp(out, gaussian ? "actor_mean" : "actor", head.outputs());
        if (gaussian) {
            out.add(new TensorInfo("actor_logstd", DType.F32, new long[] {1, head.outputs()}));
        }
        return List.copyOf(out);
    }

    private void addMlp(List<TensorInfo> out, String prefix, int outputs) {
        int in = observations;
        for (int layer = 0; layer <= hidden.length; layer++) {
            int width = layer < hidden.length ? hidden[layer] : outputs;
            String name = prefix + "." + (2 * layer);
            out.add(new TensorInfo(name + ".weight", DType.F32, new long[] {width, in}));
            out.add(new TensorInfo(name + ".bias", DType.F32, new long[] {width}));
            in = width;
        }
    }

    private TensorMap init(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        TensorMap out = new TensorMap();
        for (TensorInfo p : infos) {
            long[] shape = p.shape();
            float[] values = new float[Math.toIntExact(Shapes.numel(shape))];
            if (p.name().endsWith(".weight")) {
                boolean output = p.name().contains("." + 2 * hidden.length + ".");
                double gain = !output ? Math.sqrt(2) : p.name().startsWith("critic") ? 1.0 : 0.01;
                values = Orthogonal.matrix((int) shape[0], (int) shape[1], gain, rng);
            }
            out.put(p.name(), Tensor.ofFloats(shape, values));
        }
        return out;
    }
}
