package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The f32 arithmetic strategies need over whole tensor maps, on {@link Kernels}. Results always go to fresh
 * memory, so that a published model is never written again.
 */
final class TensorOps {
    private TensorOps() {}

    /** Refuses a model strategies cannot work on: empty, or with a tensor that is not f32. */
    static void checkModel(String what, TensorMap model) {
        if (model.size() == 0) {
            throw new IllegalArgumentException(what + ": has no tensors");
        }
        for (TensorInfo info : model.infos()) {
            if (info.dtype() != DType.F32) {
                throw new IllegalArgumentException(what + ": tensor " + info.name() + " has dtype " + info.dtype()
                        + ", strategies need F32");
            }
        }
    }

    /** Why {@code delta} does not fit {@code model} on {@code required}, or null when it does. */
    static String misfit(TensorMap model, TensorMap delta, Collection<String> required) {
        for (String name : required) {
            if (!delta.contains(name)) {
                return "delta lacks tensor " + name;
            }
        }
        for (String name : delta.names()) {
            Tensor m = model.get(name);
            if (m == null) {
                return "delta has tensor " + name + " that the model lacks";
            }
            Tensor d = delta.tensor(name);
            if (d.dtype() != DType.F32) {
                return "tensor " + name + ": dtype " + d.dtype() + ", strategies need F32";
            }
            if (!Shapes.same(m.shape(), d.shape())) {
                return "tensor " + name + ": delta shape " + Shapes.toString(d.shape()) + " != model shape "
                        + Shapes.toString(m.shape());
            }
        }
        return null;
    }

    /** A deep copy in automatically managed memory, metadata included. */
    static TensorMap copy(TensorMap m) {
        TensorMap out = new TensorMap();
        for (String name : m.names()) {
            out.put(name, m.tensor(name).copy(Arena.ofAuto()));
        }
        m.metadata().forEach(out::putMetadata);
        return out;
    }

    /** The tensors of {@code m} named in {@code names}, in that order (no copies). */
    static TensorMap subset(TensorMap m, List<String> names) {
        TensorMap out = new TensorMap();
        for (String name : names) {
            out.put(name, m.tensor(name));
        }
        return out;
    }

    /** Σₖ cₖ·xₖ per tensor of {@code layout}, with {@link Kernels#weightedSum} (f32, as the merge module's linear). */
    static TensorMap weightedSum(TensorMap layout, List<TensorMap> xs, float[] c) {
        TensorMap out = new TensorMap();
        MemorySegment[] src = new MemorySegment[xs.size()];
        for (String name : layout.names()) {
            Tensor r = allocateLike(layout.tensor(name));
            for (int k = 0; k < src.length; k++) {
                src[k] = xs.get(k).tensor(name).data();
            }
            Kernels.weightedSum(src, c, r.data(), r.numel());
            out.put(name, r);
        }
        return out;
    }

    /**
     * out ← Σₖ cₖ·xₖ per tensor of {@code out}, in place ({@code out} may be one of the inputs; each element is
     * read before it is written, as in {@link Kernels#weightedSum}).
     */
    static void weightedSumInto(TensorMap out, List<TensorMap> xs, float[] c) {
        MemorySegment[] src = new MemorySegment[xs.size()];
        for (String name : out.names()) {
            Tensor r = out.tensor(name);
            for (int k = 0; k < src.length; k++) {
                src[k] = xs.get(k).tensor(name).data();
            }
            Kernels.weightedSum(src, c, r.data(), r.numel());
        }
    }

    /** x + y. */
    static TensorMap add(TensorMap x, TensorMap y) {
        return pairwise(x, y, 1);
    }

    /** x − y. */
    static TensorMap subtract(TensorMap x, TensorMap y) {
        return pairwise(x, y, -1);
    }

    private static TensorMap pairwise(TensorMap x, TensorMap y, float sign) {
        TensorMap out = new TensorMap();
        float[] c = {1, sign};
        for (String name : x.names()) {
            Tensor r = allocateLike(x.tensor(name));
            Kernels.weightedSum(new MemorySegment[] {x.tensor(name).data(), y.tensor(name).data()}, c, r.data(), r.numel());
            out.put(name, r);
        }
        return out;
    }

    /** θ + a·δ. */
    static TensorMap addScaled(TensorMap theta, double a, TensorMap delta) {
        TensorMap out = new TensorMap();
        for (String name : theta.names()) {
            Tensor r = theta.tensor(name).copy(Arena.ofAuto());
            Kernels.axpy((float) a, delta.tensor(name).data(), r.data(), r.numel());
            out.put(name, r);
        }
        return out;
    }

    /**
     * FedAsync's mix (1−a)·θ + a·θ_new with θ_new = base + δ, the model the worker ended with, rounded to
     * f32 as the worker holds it.
     */
    static TensorMap mix(TensorMap theta, TensorMap base, TensorMap delta, double a) {
        TensorMap out = new TensorMap();
        float[] sum = {1, 1};
        float[] mix = {(float) (1 - a), (float) a};
        for (String name : theta.names()) {
            Tensor t = theta.tensor(name);
            Tensor r = allocateLike(t);
            long n = r.numel();
            Kernels.weightedSum(new MemorySegment[] {base.tensor(name).data(), delta.tensor(name).data()}, sum, r.data(), n);
            Kernels.weightedSum(new MemorySegment[] {t.data(), r.data()}, mix, r.data(), n);
            out.put(name, r);
        }
        return out;
    }

    /** {@code model} with the tensors of {@code replacement} swapped in, order kept (no copies). */
    static TensorMap replace(TensorMap model, TensorMap replacement) {
        TensorMap out = new TensorMap();
        for (Map.Entry<String, Tensor> e : model.asMap().entrySet()) {
            Tensor r = replacement.get(e.getKey());
            out.put(e.getKey(), r != null ? r : e.getValue());
        }
        return out;
    }

    private static Tensor allocateLike(Tensor t) {
        return Tensor.allocate(DType.F32, t.shape(), Arena.ofAuto());
    }
}
