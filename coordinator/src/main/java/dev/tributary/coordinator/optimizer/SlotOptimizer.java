package dev.tributary.coordinator.optimizer;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The bookkeeping every element-wise server optimizer shares: input checks, per-tensor state slots
 * (created zero-filled on a tensor's first step), the step counter, and state export and restore.
 * Subclasses only write the per-element update.
 */
abstract class SlotOptimizer implements ServerOptimizer {
    private static final String STEPS = "steps";
    private static final String OPTIMIZER = "optimizer";

    private final String name;
    private final List<String> slotNames;
    /** slot name → parameter name → state tensor, updated in place by steps. */
    private final Map<String, Map<String, Tensor>> slots = new LinkedHashMap<>();
    private long steps;

    SlotOptimizer(String name, List<String> slotNames) {
        this.name = name;
        this.slotNames = List.copyOf(slotNames);
        for (String s : slotNames) {
            slots.put(s, new LinkedHashMap<>());
        }
    }

    /**
     * Writes the new weights of one tensor into {@code out} and updates its state slots in place.
     *
     * @param n     element count
     * @param slots the tensor's state, in the order of the slot names given to the constructor
     * @param fresh true when the slots were created for this step (the tensor's first step)
     */
    abstract void update(long n, MemorySegment theta, MemorySegment delta, MemorySegment[] slots, boolean fresh,
            MemorySegment out);

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final long steps() {
        return steps;
    }

    @Override
    public final TensorMap step(TensorMap params, TensorMap delta) {
        checkInputs(params, delta);
        TensorMap out = new TensorMap();
        MemorySegment[] state = new MemorySegment[slotNames.size()];
        for (String p : params.names()) {
            Tensor theta = params.tensor(p);
            boolean fresh = false;
            for (int i = 0; i < state.length; i++) {
                Map<String, Tensor> slot = slots.get(slotNames.get(i));
                Tensor s = slot.get(p);
                if (s == null) {
                    s = Tensor.allocate(DType.F32, theta.shape(), Arena.ofAuto());
                    slot.put(p, s);
                    fresh = true;
                }
                state[i] = s.data();
            }
            Tensor result = Tensor.allocate(DType.F32, theta.shape(), Arena.ofAuto());
            update(theta.numel(), theta.data(), delta.tensor(p).data(), state, fresh, result.data());
            out.put(p, result);
        }
        steps++;
        return out;
    }

    @Override
    public final TensorMap exportState() {
        TensorMap state = new TensorMap();
        state.putMetadata(OPTIMIZER, name).putMetadata(STEPS, Long.toString(steps));
        slots.forEach((slot, tensors) -> tensors.forEach((p, t) -> state.put(slot + "/" + p, t.copy(Arena.ofAuto()))));
        return state;
    }

    @Override
    public final void restoreState(TensorMap state) {
        String owner = state.metadata().get(OPTIMIZER);
        if (!name.equals(owner)) {
            throw new IllegalArgumentException("optimizer state of \"" + owner + "\" cannot restore optimizer " + name);
        }
        long restoredSteps;
        try {
            restoredSteps = Long.parseLong(state.metadata().getOrDefault(STEPS, ""));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("optimizer state: steps \"" + state.metadata().get(STEPS)
                    + "\" is not a whole number");
        }
        if (restoredSteps < 0) {
            throw new IllegalArgumentException("optimizer state: steps < 0: " + restoredSteps);
        }
        Map<String, Map<String, Tensor>> restored = new LinkedHashMap<>();
        for (String s : slotNames) {
            restored.put(s, new LinkedHashMap<>());
        }
        for (String key : state.names()) {
            int slash = key.indexOf('/');
            Map<String, Tensor> slot = slash < 0 ? null : restored.get(key.substring(0, slash));
            if (slot == null) {
                throw new IllegalArgumentException("optimizer state: tensor " + key + " is not <slot>/<param> with slot in "
                        + slotNames);
            }
            Tensor t = state.tensor(key);
            if (t.dtype() != DType.F32) {
                throw new IllegalArgumentException("optimizer state: tensor " + key + " has dtype " + t.dtype() + ", not F32");
            }
            slot.put(key.substring(slash + 1), t.copy(Arena.ofAuto()));
        }
        slots.clear();
        slots.putAll(restored);
        steps = restoredSteps;
    }

    /** Checks up front so that a refused step leaves the state untouched. */
    private static void checkInputs(TensorMap params, TensorMap delta) {
        for (String p : params.names()) {
            Tensor theta = params.tensor(p);
            Tensor d = delta.get(p);
            if (d == null) {
                throw new IllegalArgumentException("delta lacks tensor " + p);
            }
            checkF32(p, theta);
            checkF32(p, d);
            if (!Shapes.same(theta.shape(), d.shape())) {
                throw new IllegalArgumentException("tensor " + p + ": delta shape " + Shapes.toString(d.shape())
                        + " != model shape " + Shapes.toString(theta.shape()));
            }
        }
        for (String p : delta.names()) {
            if (!params.contains(p)) {
                throw new IllegalArgumentException("delta has tensor " + p + " that the model lacks");
            }
        }
    }

    private static void checkF32(String name, Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("tensor " + name + ": dtype " + t.dtype() + ", server optimizers need F32");
        }
    }

    static float get(MemorySegment s, long i) {
        return s.getAtIndex(Tensor.F32_LE, i);
    }

    static void set(MemorySegment s, long i, double v) {
        s.setAtIndex(Tensor.F32_LE, i, (float) v);
    }

    static double positive(String what, double v) {
        if (!(v > 0) || !Double.isFinite(v)) {
            throw new IllegalArgumentException(what + " must be finite and > 0, got " + v);
        }
        return v;
    }

    static double unitInterval(String what, double v) {
        if (!(v >= 0 && v < 1)) {
            throw new IllegalArgumentException(what + " must be in [0, 1), got " + v);
        }
        return v;
    }
}
