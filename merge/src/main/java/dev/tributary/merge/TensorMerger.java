package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@link MergeMethod} bound to its parameters: merges one tensor at a time. Every call checks that the
 * inputs agree in shape and dtype and are finite, converts them to f32 (f32 inputs are used in place,
 * never modified), runs the method's arithmetic in f32 or wider and casts the result to the requested
 * dtype rounding to nearest even.
 *
 * <p>Tensors of integer or boolean type are not merged: they must be identical in every model (and the
 * base) and are passed through unchanged.
 *
 * <p>Not thread-safe for two-pass methods (the first pass accumulates state); single-pass methods may be
 * called from several threads on different tensors.
 */
public final class TensorMerger {
    private final String method;
    private final List<String> models;
    private final boolean hasBase;
    private final Set<String> tensorParameters;
    private final Kernel kernel;

    TensorMerger(String method, List<String> models, boolean hasBase, Set<String> tensorParameters, Kernel kernel) {
        this.method = method;
        this.models = List.copyOf(models);
        this.hasBase = hasBase;
        this.tensorParameters = Set.copyOf(tensorParameters);
        this.kernel = kernel;
    }

    /** The method's name. */
    public String method() {
        return method;
    }

    /** Whether every tensor must first go through {@link #observe} before any {@link #merge}. */
    public boolean twoPass() {
        return kernel.twoPass();
    }

    /**
     * First pass of a two-pass method: lets it see one tensor of every model. Call once per tensor,
     * in any order, before the first {@link #merge}.
     */
    public void observe(TensorInputs in) {
        if (!twoPass()) {
            throw new IllegalStateException(method + " is a single-pass method");
        }
        if (!check(in).isFloatingPoint()) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            kernel.observe(toF32(in, arena));
        }
    }

    /**
     * Merges one tensor.
     *
     * @param in    the tensor in every model (and the base, when the method takes one)
     * @param out   dtype of the result; ignored for integer and boolean tensors, which pass through
     * @param arena where the result (and any temporary) is allocated
     * @return the merged tensor, same shape as the inputs
     * @throws MergeException naming the model and tensor when inputs disagree or are not finite
     */
    public Tensor merge(TensorInputs in, DType out, Arena arena) {
        DType dtype = check(in);
        if (!dtype.isFloatingPoint()) {
            return passThrough(in);
        }
        if (!out.isFloatingPoint()) {
            throw new MergeException("dtype: " + out + " is not a floating-point type");
        }
        F32Inputs f32 = kernel.checksFinite() ? unchecked(in) : null;
        MemorySegment merged = f32 == null ? null : kernel.mergeIfFinite(f32, arena);
        if (merged == null) {
            // checked apart: the error names the first input that is not finite
            f32 = toF32(in, arena);
            merged = kernel.merge(f32, arena);
        }
        Tensor result = Tensor.of(DType.F32, f32.shape(), merged);
        return out == DType.F32 ? result : result.castTo(out, arena);
    }

    private DType check(TensorInputs in) {
        String name = in.name();
        if (in.models().size() != models.size()) {
            throw new MergeException("tensor " + name + ": " + in.models().size() + " inputs for "
                    + models.size() + " models bound to " + method);
        }
        if (hasBase && in.base() == null) {
            throw new MergeException("base model: tensor " + name + ": missing");
        }
        if (!hasBase && in.base() != null) {
            throw new MergeException("base model: tensor " + name + ": given, but " + method
                    + " was bound without one");
        }
        Tensor first = in.models().getFirst();
        for (int i = 0; i < models.size(); i++) {
            agree(first, models.getFirst(), in.models().get(i), "model " + models.get(i), name);
        }
        if (in.base() != null) {
            agree(first, models.getFirst(), in.base(), "base model", name);
        }
        for (String key : first.dtype().isFloatingPoint() ? tensorParameters : Set.<String>of()) {
            List<Tensor> ts = in.tensorParameters().get(key);
            if (ts == null || ts.size() != models.size()) {
                throw new MergeException("tensor " + name + ": parameter " + key + " needs one tensor per model, got "
                        + (ts == null ? 0 : ts.size()));
            }
            for (int i = 0; i < ts.size(); i++) {
                Tensor t = ts.get(i);
                if (!Shapes.same(t.shape(), first.shape())) {
                    throw new MergeException("model " + models.get(i) + ": tensor " + name + ": parameters." + key
                            + " has shape " + Shapes.toString(t.shape()) + " != " + Shapes.toString(first.shape()));
                }
                if (!t.dtype().isFloatingPoint()) {
                    throw new MergeException("model " + models.get(i) + ": tensor " + name + ": parameters." + key
                            + " has dtype " + t.dtype() + ", expected a floating-point type");
                }
            }
        }
        return first.dtype();
    }

    private static void agree(Tensor ref, String refName, Tensor t, String who, String name) {
        if (!Shapes.same(ref.shape(), t.shape())) {
            throw new MergeException(who + ": tensor " + name + ": shape " + Shapes.toString(t.shape()) + " != "
                    + Shapes.toString(ref.shape()) + " of model " + refName);
        }
        if (ref.dtype() != t.dtype()) {
            throw new MergeException(who + ": tensor " + name + ": dtype " + t.dtype() + " != " + ref.dtype()
                    + " of model " + refName);
        }
    }

    private Tensor passThrough(TensorInputs in) {
        Tensor first = in.models().getFirst();
        for (int i = 1; i < in.models().size(); i++) {
            if (!first.contentEquals(in.models().get(i))) {
                throw new MergeException("model " + models.get(i) + ": tensor " + in.name() + ": " + first.dtype()
                        + " values differ from model " + models.getFirst() + "; non-float tensors are not merged");
            }
        }
        if (in.base() != null && !first.contentEquals(in.base())) {
            throw new MergeException("base model: tensor " + in.name() + ": " + first.dtype()
                    + " values differ from model " + models.getFirst() + "; non-float tensors are not merged");
        }
        return first;
    }

    private F32Inputs toF32(TensorInputs in, Arena arena) {
        List<MemorySegment> segs = new ArrayList<>(models.size());
        for (int i = 0; i < models.size(); i++) {
            segs.add(finite(in.models().get(i), "model " + models.get(i), in.name(), arena));
        }
        MemorySegment base = in.base() == null ? null : finite(in.base(), "base model", in.name(), arena);
        Map<String, List<MemorySegment>> extra = new HashMap<>();
        for (String key : tensorParameters) {
            List<MemorySegment> list = new ArrayList<>(models.size());
            List<Tensor> ts = in.tensorParameters().get(key);
            for (int i = 0; i < ts.size(); i++) {
                list.add(finite(ts.get(i), "model " + models.get(i) + ": parameters." + key, in.name(), arena));
            }
            extra.put(key, List.copyOf(list));
        }
        Tensor first = in.models().getFirst();
        return new F32Inputs(in.name(), first.numel(), first.shape(), List.copyOf(segs), base, Map.copyOf(extra));
    }

    /** The inputs as they are, for a kernel that checks them itself: f32 only, no base or tensor parameters. */
    private F32Inputs unchecked(TensorInputs in) {
        if (in.base() != null || !tensorParameters.isEmpty()) {
            return null;
        }
        List<MemorySegment> segs = new ArrayList<>(models.size());
        for (Tensor t : in.models()) {
            if (t.dtype() != DType.F32) {
                return null;
            }
            segs.add(t.data());
        }
        Tensor first = in.models().getFirst();
        return new F32Inputs(in.name(), first.numel(), first.shape(), List.copyOf(segs), null, Map.of());
    }

    private static MemorySegment finite(Tensor t, String who, String name, Arena arena) {
        MemorySegment seg = t.dtype() == DType.F32 ? t.data() : t.toF32(arena).data();
        long bad = F32.firstNonFinite(seg, t.numel());
        if (bad >= 0) {
            throw new MergeException(who + ": tensor " + name + ": element " + bad + " is "
                    + F32.get(seg, bad) + "; inputs must be finite");
        }
        return seg;
    }

    @Override
    public String toString() {
        return method + " over " + models;
    }
}
