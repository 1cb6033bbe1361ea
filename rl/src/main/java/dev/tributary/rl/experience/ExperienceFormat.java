package dev.tributary.rl.experience;

import dev.tributary.rl.env.Space;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;

/**
 * Experience as a {@link TensorMap}, to travel and be stored as safetensors bytes: the tensors
 * {@value #OBSERVATIONS} and {@value #NEXT_OBSERVATIONS} (F32 {@code [T, E, obs]}), {@value #ACTIONS} (I64
 * {@code [T, E]} for a discrete action space, F32 {@code [T, E, dims]} for a box), {@value #REWARDS} (F32),
 * {@value #TERMINATED} and {@value #TRUNCATED} (U8, 0 or 1), {@value #BEHAVIOUR_LOG_PROBS} (F32),
 * {@value #POLICY_VERSIONS} (I64) and {@value #EPISODE_RETURNS} (F32), each {@code [T, E]}.
 *
 * <p>{@link #decode} is strict: exactly these tensors, these dtypes and shapes, flags 0 or 1, every float
 * finite, every action inside the action space. Whether the versions are acceptable is the learner's call.
 */
public final class ExperienceFormat {
    public static final String OBSERVATIONS = "observations";
    public static final String NEXT_OBSERVATIONS = "next_observations";
    public static final String ACTIONS = "actions";
    public static final String REWARDS = "rewards";
    public static final String TERMINATED = "terminated";
    public static final String TRUNCATED = "truncated";
    public static final String BEHAVIOUR_LOG_PROBS = "behaviour_log_probs";
    public static final String POLICY_VERSIONS = "policy_versions";
    public static final String EPISODE_RETURNS = "episode_returns";

    private static final List<String> NAMES = List.of(OBSERVATIONS, NEXT_OBSERVATIONS, ACTIONS, REWARDS, TERMINATED,
            TRUNCATED, BEHAVIOUR_LOG_PROBS, POLICY_VERSIONS, EPISODE_RETURNS);

    private ExperienceFormat() {}

    /** The tensors of {@code x}, in automatically managed memory. */
    public static TensorMap encode(Experience x, Space actionSpace) {
        long t = x.steps();
        long e = x.envs();
        long[] grid = {t, e};
        TensorMap out = new TensorMap();
        out.put(OBSERVATIONS, Tensor.ofFloats(new long[] {t, e, x.observationSize()}, x.observations()));
        out.put(NEXT_OBSERVATIONS, Tensor.ofFloats(new long[] {t, e, x.observationSize()}, x.nextObservations()));
        if (actionSpace instanceof Space.Discrete) {
            long[] indices = new long[x.size()];
            for (int i = 0; i < indices.length; i++) {
                indices[i] = (long) x.actions()[i];
            }
            out.put(ACTIONS, longs(grid, indices));
        } else {
            out.put(ACTIONS, Tensor.ofFloats(new long[] {t, e, x.actionSize()}, x.actions()));
        }
        out.put(REWARDS, Tensor.ofFloats(grid, x.rewards()));
        out.put(TERMINATED, flags(grid, x.terminated()));
        out.put(TRUNCATED, flags(grid, x.truncated()));
        out.put(BEHAVIOUR_LOG_PROBS, Tensor.ofFloats(grid, x.behaviourLogProbs()));
        out.put(POLICY_VERSIONS, longs(grid, x.policyVersions()));
        out.put(EPISODE_RETURNS, Tensor.ofFloats(grid, x.episodeReturns()));
        return out;
    }

    /** The safetensors image of {@code x}. */
    public static MemorySegment toBytes(Experience x, Space actionSpace, Arena arena) {
        return Safetensors.encode(encode(x, actionSpace), Map.of(), arena);
    }

    /**
     * Reads experience for the given spaces, its T and E taken from {@value #REWARDS}, checking everything
     * but whether the versions are acceptable.
     *
     * @throws InvalidExperienceException naming the tensor and the rule
     */
    public static Experience decode(TensorMap m, Space observationSpace, Space actionSpace) {
        Tensor r = m.get(REWARDS);
        if (r == null) {
            throw new InvalidExperienceException("malformed", "missing tensor " + REWARDS);
        }
        long[] s = r.shape();
        if (s.length != 2 || s[0] < 1 || s[1] < 1 || s[0] > 1 << 20 || s[1] > 1 << 20) {
            throw new InvalidExperienceException("shape", "tensor " + REWARDS + ": shape " + Shapes.toString(s)
                    + " is not [T, E] with 1 <= T, E <= 2^20");
        }
        int steps = (int) s[0];
        int envs = (int) s[1];
        for (String name : m.names()) {
            if (!NAMES.contains(name)) {
                throw new InvalidExperienceException("malformed", "unexpected tensor " + name);
            }
        }
        int obs = observationSpace.size();
        long[] grid = {steps, envs};
        float[] observations = floats(m, OBSERVATIONS, new long[] {steps, envs, obs});
        float[] next = floats(m, NEXT_OBSERVATIONS, new long[] {steps, envs, obs});
        float[] actions;
        int actionSize = actionSpace.size();
        if (actionSpace instanceof Space.Discrete d) {
            long[] indices = longs(m, ACTIONS, grid);
            actions = new float[indices.length];
            for (int i = 0; i < indices.length; i++) {
                if (indices[i] < 0 || indices[i] >= d.n()) {
                    throw new InvalidExperienceException("action", "tensor " + ACTIONS + ": element " + i + " = "
                            + indices[i] + " outside [0, " + d.n() + ")");
                }
                actions[i] = indices[i];
            }
        } else {
            actions = floats(m, ACTIONS, new long[] {steps, envs, actionSize});
        }
        float[] rewards = floats(m, REWARDS, grid);
        boolean[] terminated = flags(m, TERMINATED, grid);
        boolean[] truncated = flags(m, TRUNCATED, grid);
        float[] logProbs = floats(m, BEHAVIOUR_LOG_PROBS, grid);
        long[] versions = longs(m, POLICY_VERSIONS, grid);
        float[] returns = floats(m, EPISODE_RETURNS, grid);
        if (observationSpace instanceof Space.Box box) {
            inBox(OBSERVATIONS, observations, box);
            inBox(NEXT_OBSERVATIONS, next, box);
        }
        for (int i = 0; i < returns.length; i++) {
            if (returns[i] != 0 && !(terminated[i] || truncated[i])) {
                throw new InvalidExperienceException("malformed", "tensor " + EPISODE_RETURNS + ": element " + i
                        + " is " + returns[i] + " where no episode ended (must be 0)");
            }
        }
        return new Experience(steps, envs, obs, actionSize, observations, next, actions, rewards, terminated,
                truncated, logProbs, versions, returns);
    }

    private static Tensor present(TensorMap m, String name, DType dtype, long[] shape) {
        Tensor t = m.get(name);
        if (t == null) {
            throw new InvalidExperienceException("malformed", "missing tensor " + name);
        }
        if (t.dtype() != dtype) {
            throw new InvalidExperienceException("dtype", "tensor " + name + ": dtype " + t.dtype() + " != " + dtype);
        }
        if (!Shapes.same(t.shape(), shape)) {
            throw new InvalidExperienceException("shape", "tensor " + name + ": shape " + Shapes.toString(t.shape())
                    + " != " + Shapes.toString(shape));
        }
        return t;
    }

    private static float[] floats(TensorMap m, String name, long[] shape) {
        float[] v = present(m, name, DType.F32, shape).toFloatArray();
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new InvalidExperienceException("non_finite", "tensor " + name + ": element " + i
                        + " is not finite: " + v[i]);
            }
        }
        return v;
    }

    private static long[] longs(TensorMap m, String name, long[] shape) {
        Tensor t = present(m, name, DType.I64, shape);
        return t.data().toArray(Tensor.I64_LE);
    }

    private static boolean[] flags(TensorMap m, String name, long[] shape) {
        byte[] raw = present(m, name, DType.U8, shape).data().toArray(ValueLayout.JAVA_BYTE);
        boolean[] out = new boolean[raw.length];
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] != 0 && raw[i] != 1) {
                throw new InvalidExperienceException("flags", "tensor " + name + ": element " + i + " is "
                        + (raw[i] & 0xff) + " (must be 0 or 1)");
            }
            out[i] = raw[i] == 1;
        }
        return out;
    }

    private static void inBox(String name, float[] values, Space.Box box) {
        int n = box.size();
        float[] low = box.low();
        float[] high = box.high();
        for (int i = 0; i < values.length; i++) {
            int k = i % n;
            if (!(values[i] >= low[k] && values[i] <= high[k])) {
                throw new InvalidExperienceException("observation", "tensor " + name + ": element " + i + " = "
                        + values[i] + " outside [" + low[k] + ", " + high[k] + "]");
            }
        }
    }

    private static Tensor longs(long[] shape, long[] values) {
        Tensor t = Tensor.allocate(DType.I64, shape, Arena.ofAuto());
        MemorySegment.copy(values, 0, t.data(), Tensor.I64_LE, 0, values.length);
        return t;
    }

    private static Tensor flags(long[] shape, boolean[] values) {
        Tensor t = Tensor.allocate(DType.U8, shape, Arena.ofAuto());
        for (int i = 0; i < values.length; i++) {
            t.data().set(ValueLayout.JAVA_BYTE, i, (byte) (values[i] ? 1 : 0));
        }
        return t;
    }
}
