package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A whole-model merge over {@link TensorSource}s (memory-mapped checkpoints or in-memory maps), streamed
 * tensor by tensor: {@link #prepare} checks everything that can be checked before any arithmetic (the
 * method's parameters, that every model has the same tensors with the same shapes and dtypes, that
 * tensor-valued parameters cover every tensor) and fixes the output's names, dtypes and shapes;
 * {@link #run} then merges one tensor at a time in an arena freed after each (shared, so that a kernel may
 * split a large tensor across cores), handing every
 * result to a sink. Peak memory is a few tensors, whatever the size of the model.
 *
 * <p>With {@link #prepare} the output has the tensors of the base model (or of the first model when there
 * is no base), in its order; {@link #plan} takes the output tensor by tensor instead, each with its own
 * inputs and parameters (mergekit's slices, gradients and filters). Used by the {@code merge} command and
 * by the coordinator, so both give the same numbers.
 */
public final class MergeJob {

    /**
     * One model taking part in a merge.
     *
     * @param name       shown in errors (a path, a worker id)
     * @param source     its tensors
     * @param parameters its per-model parameters (see {@link MergeSpec#modelParameters()})
     */
    public record Input(String name, TensorSource source, Map<String, Object> parameters) {
        public Input {
            parameters = Map.copyOf(parameters);
        }

        public Input(String name, TensorSource source) {
            this(name, source, Map.of());
        }
    }

    /**
     * Where one model's input to one output tensor comes from: in a frankenmerge the tensor of layer 12
     * of the output may be layer 20 of a model.
     *
     * @param model      shown in errors, and the model's identity in the merge
     * @param source     its tensors
     * @param tensor     the name of the tensor in {@code source}
     * @param parameters the model's parameters for this tensor (see {@link MergeSpec#modelParameters()});
     *                   a tensor-valued parameter is a {@link TensorSource} read at {@code tensor}
     */
    public record Part(String model, TensorSource source, String tensor, Map<String, Object> parameters) {
        public Part {
            parameters = Map.copyOf(parameters);
        }
    }

    /**
     * One tensor of the merged model and how to make it.
     *
     * @param name       its name in the output
     * @param models     the models merged into it, in the method's order (not counting the base)
     * @param base       the base model's input, or null
     * @param parameters top-level parameters for this tensor
     */
    public record Output(String name, List<Part> models, Part base, Map<String, Object> parameters) {
        public Output {
            models = List.copyOf(models);
            parameters = Map.copyOf(parameters);
        }
    }

    /** Receives each merged tensor; the tensor is valid only during the call. */
    @FunctionalInterface
    public interface Sink {
        void accept(String name, Tensor tensor);
    }

    private record Planned(TensorInfo info, TensorMerger merger, List<Part> models, Part base) {}

    private final List<Planned> plan;
    private final List<String> tensorParameters;
    private final List<TensorInfo> outputs;
    private final DType roundThrough;
    private final boolean twoPass;

    private MergeJob(List<Planned> plan, List<String> tensorParameters, DType roundThrough) {
        this.plan = List.copyOf(plan);
        this.tensorParameters = tensorParameters;
        this.roundThrough = roundThrough;
        this.outputs = plan.stream().map(Planned::info).toList();
        this.twoPass = !plan.isEmpty() && plan.getFirst().merger().twoPass();
    }

    /**
     * Validates a merge.
     *
     * @param base       the base model, or null for methods without one; takes no parameters
     * @param parameters top-level parameters
     * @param dtype      dtype of the merged floating-point tensors, or null for the inputs' own dtype
     * @throws MergeException naming the model, tensor and key of the first problem found
     */
    public static MergeJob prepare(MergeMethod method, List<Input> models, Input base, Map<String, Object> parameters,
                                   DType dtype) {
        if (models.isEmpty()) {
            throw new MergeException("models: none given");
        }
        if (base != null && !base.parameters().isEmpty()) {
            throw new MergeException("base_model (" + base.name() + "): takes no parameters, got "
                    + base.parameters().keySet());
        }
        List<String> names = new ArrayList<>();
        List<Map<String, Object>> params = new ArrayList<>();
        for (Input in : models) {
            names.add(in.name());
            params.add(in.parameters());
        }
        TensorMerger merger = method.bind(new MergeSpec(names, params, parameters, base != null));
        checkDtype(dtype);
        Input reference = base != null ? base : models.getFirst();
        String refWho = who(reference, base);
        List<TensorInfo> refInfos = reference.source().infos();
        Map<String, TensorInfo> byName = new HashMap<>();
        for (TensorInfo info : refInfos) {
            byName.put(info.name(), info);
        }
        List<Input> all = new ArrayList<>(models);
        if (base != null) {
            all.add(base);
        }
        for (Input in : all) {
            if (in == reference) {
                continue;
            }
            sameTensors(who(in, base), in.source(), refWho, byName);
        }
        List<String> keys = List.copyOf(method.tensorParameters());
        for (String key : keys) {
            for (Input in : models) {
                TensorSource extra = (TensorSource) in.parameters().get(key);
                for (TensorInfo info : refInfos) {
                    if (info.dtype().isFloatingPoint()) {
                        coversTensor("model " + in.name() + ": parameters." + key, extra, info);
                    }
                }
            }
        }
        List<Planned> planned = new ArrayList<>(refInfos.size());
        for (TensorInfo info : refInfos) {
            List<Part> parts = new ArrayList<>(models.size());
            for (Input in : models) {
                parts.add(new Part(in.name(), in.source(), info.name(), in.parameters()));
            }
            Part b = base == null ? null : new Part(base.name(), base.source(), info.name(), Map.of());
            planned.add(new Planned(outputInfo(info.name(), info, dtype), merger, parts, b));
        }
        return new MergeJob(planned, keys, null);
    }

    /**
     * Validates a merge planned tensor by tensor (slices of layers, parameters that vary by layer or by
     * tensor name): every input exists with one shape and dtype per output, and the method is bound to
     * each output's parameters, so every error shows before any arithmetic.
     *
     * @param dtype        dtype of the merged floating-point tensors, or null for the inputs' own dtype
     * @param roundThrough when not null, each merged tensor is first rounded to this dtype, then stored
     *                     in {@code dtype} (mergekit's {@code dtype} with a different {@code out_dtype})
     * @throws MergeException naming the output, model and tensor of the first problem found
     */
    public static MergeJob plan(MergeMethod method, List<Output> outputs, DType dtype, DType roundThrough) {
        if (outputs.isEmpty()) {
            throw new MergeException("models: the merge has no tensors to write");
        }
        checkDtype(dtype);
        checkDtype(roundThrough);
        List<String> keys = List.copyOf(method.tensorParameters());
        Map<MergeSpec, TensorMerger> bound = new HashMap<>();
        Set<String> seen = new HashSet<>();
        List<Planned> planned = new ArrayList<>(outputs.size());
        for (Output o : outputs) {
            if (!seen.add(o.name())) {
                throw new MergeException("output tensor " + o.name() + ": produced twice");
            }
            if (o.models().isEmpty()) {
                throw new MergeException("output tensor " + o.name() + ": no model to merge");
            }
            Part ref = o.base() != null ? o.base() : o.models().getFirst();
            String refWho = who(ref, o.base());
            TensorInfo refInfo = info(ref, refWho, null);
            for (Part p : all(o)) {
                if (p == ref) {
                    continue;
                }
                String as = p.tensor().equals(ref.tensor()) ? "" : " tensor " + ref.tensor();
                String who = who(p, o.base()) + ": tensor " + p.tensor();
                TensorInfo in = info(p, who(p, o.base()), refWho + as);
                if (!Shapes.same(in.shape(), refInfo.shape())) {
                    throw new MergeException(who + ": shape " + Shapes.toString(in.shape()) + " != "
                            + Shapes.toString(refInfo.shape()) + " of " + refWho + as);
                }
                if (in.dtype() != refInfo.dtype()) {
                    throw new MergeException(who + ": dtype " + in.dtype() + " != " + refInfo.dtype() + " of "
                            + refWho + as);
                }
            }
            for (Part p : o.models()) {
                for (String key : refInfo.dtype().isFloatingPoint() ? keys : List.<String>of()) {
                    if (p.parameters().get(key) instanceof TensorSource ts) {
                        coversTensor("model " + p.model() + ": parameters." + key, ts, info(p, "", null));
                    }
                }
            }
            List<String> names = new ArrayList<>();
            List<Map<String, Object>> params = new ArrayList<>();
            for (Part p : o.models()) {
                names.add(p.model());
                params.add(p.parameters());
            }
            MergeSpec spec = new MergeSpec(names, params, o.parameters(), o.base() != null);
            TensorMerger merger = bound.get(spec);
            if (merger == null) {
                merger = method.bind(spec);
                bound.put(spec, merger);
            }
            planned.add(new Planned(outputInfo(o.name(), refInfo, dtype), merger, o.models(), o.base()));
        }
        if (bound.size() > 1 && planned.getFirst().merger().twoPass()) {
            throw new MergeException("merge_method: " + method.name() + " scores whole models, so its models and "
                    + "parameters cannot vary from tensor to tensor (no slices or per-layer parameters)");
        }
        return new MergeJob(planned, keys, roundThrough);
    }

    private static List<Part> all(Output o) {
        List<Part> all = new ArrayList<>(o.models());
        if (o.base() != null) {
            all.addFirst(o.base());
        }
        return all;
    }

    private static TensorInfo info(Part p, String who, String presentIn) {
        for (TensorInfo i : p.source().infos()) {
            if (i.name().equals(p.tensor())) {
                return i;
            }
        }
        throw new MergeException(who + ": tensor " + p.tensor() + ": missing"
                + (presentIn == null ? "" : " (present in " + presentIn + ")"));
    }

    private static String who(Part p, Part base) {
        return (p == base ? "base model " : "model ") + p.model();
    }

    private static void checkDtype(DType dtype) {
        if (dtype != null && !dtype.isFloatingPoint()) {
            throw new MergeException("dtype: " + dtype + " is not a floating-point type");
        }
    }

    private static TensorInfo outputInfo(String name, TensorInfo in, DType dtype) {
        DType out = dtype != null && in.dtype().isFloatingPoint() ? dtype : in.dtype();
        return new TensorInfo(name, out, in.shape());
    }

    private static String who(Input in, Input base) {
        return in == base ? "base model " + in.name() : "model " + in.name();
    }

    private static void sameTensors(String who, TensorSource source, String refWho, Map<String, TensorInfo> ref) {
        Set<String> seen = new LinkedHashSet<>();
        for (TensorInfo info : source.infos()) {
            TensorInfo expected = ref.get(info.name());
            if (expected == null) {
                throw new MergeException(who + ": tensor " + info.name() + ": not in " + refWho);
            }
            if (!Shapes.same(info.shape(), expected.shape())) {
                throw new MergeException(who + ": tensor " + info.name() + ": shape " + Shapes.toString(info.shape())
                        + " != " + Shapes.toString(expected.shape()) + " of " + refWho);
            }
            if (info.dtype() != expected.dtype()) {
                throw new MergeException(who + ": tensor " + info.name() + ": dtype " + info.dtype() + " != "
                        + expected.dtype() + " of " + refWho);
            }
            seen.add(info.name());
        }
        for (String name : ref.keySet()) {
            if (!seen.contains(name)) {
                throw new MergeException(who + ": tensor " + name + ": missing (present in " + refWho + ")");
            }
        }
    }

    private static void coversTensor(String who, TensorSource extra, TensorInfo info) {
        if (!extra.contains(info.name())) {
            throw new MergeException(who + ": tensor " + info.name() + ": missing");
        }
        for (TensorInfo e : extra.infos()) {
            if (e.name().equals(info.name())) {
                if (!Shapes.same(e.shape(), info.shape())) {
                    throw new MergeException(who + ": tensor " + info.name() + ": shape " + Shapes.toString(e.shape())
                            + " != " + Shapes.toString(info.shape()) + " of the model");
                }
                if (!e.dtype().isFloatingPoint()) {
                    throw new MergeException(who + ": tensor " + info.name() + ": dtype " + e.dtype()
                            + " is not a floating-point type");
                }
                return;
            }
        }
    }

    /** Names, dtypes and shapes of the merged model, in output order. */
    public List<TensorInfo> outputs() {
        return outputs;
    }

    /** Whether the method reads the model twice. */
    public boolean twoPass() {
        return twoPass;
    }

    /**
     * Merges every tensor and hands it to {@code sink}, in {@link #outputs()} order.
     *
     * @throws MergeException when a tensor's values are not finite
     */
    public void run(Sink sink, ProgressListener listener) {
        int passes = twoPass() ? 2 : 1;
        int total = plan.size() * passes;
        int done = 0;
        if (passes == 2) {
            for (Planned p : plan) {
                p.merger().observe(inputs(p));
                listener.onTensor(++done, total, p.info().name());
            }
        }
        for (Planned p : plan) {
            TensorInfo info = p.info();
            try (Arena arena = Arena.ofShared()) {
                boolean round = roundThrough != null && roundThrough != info.dtype() && info.dtype().isFloatingPoint();
                Tensor merged = p.merger().merge(inputs(p), round ? roundThrough : info.dtype(), arena);
                if (round && merged.dtype() != info.dtype()) {
                    merged = merged.castTo(info.dtype(), arena);
                }
                sink.accept(info.name(), merged);
            }
            listener.onTensor(++done, total, info.name());
        }
    }

    private TensorInputs inputs(Planned p) {
        List<Tensor> tensors = new ArrayList<>(p.models().size());
        for (Part part : p.models()) {
            tensors.add(part.source().tensor(part.tensor()));
        }
        Map<String, List<Tensor>> extra = new HashMap<>();
        if (tensors.getFirst().dtype().isFloatingPoint()) {
            for (String key : tensorParameters) {
                List<Tensor> list = new ArrayList<>(p.models().size());
                for (Part part : p.models()) {
                    list.add(((TensorSource) part.parameters().get(key)).tensor(part.tensor()));
                }
                extra.put(key, list);
            }
        }
        Tensor base = p.base() == null ? null : p.base().source().tensor(p.base().tensor());
        return new TensorInputs(p.info().name(), tensors, base, extra);
    }
}
