package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A whole-model merge over {@link TensorSource}s (memory-mapped checkpoints or in-memory maps), streamed
 * tensor by tensor: {@link #prepare} checks everything that can be checked before any arithmetic (the
 * method's parameters, that every model has the same tensors with the same shapes and dtypes, that
 * tensor-valued parameters cover every tensor) and fixes the output's names, dtypes and shapes;
 * {@link #run} then merges one tensor at a time in a confined arena freed after each, handing every
 * result to a sink. Peak memory is a few tensors, whatever the size of the model.
 *
 * <p>The output has the tensors of the base model (or of the first model when there is no base), in its
 * order. Used by the {@code merge} command and by the coordinator, so both give the same numbers.
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

    /** Receives each merged tensor; the tensor is valid only during the call. */
    @FunctionalInterface
    public interface Sink {
        void accept(String name, Tensor tensor);
    }

    private final TensorMerger merger;
    private final List<Input> models;
    private final Input base;
    private final List<String> tensorParameters;
    private final List<TensorInfo> outputs;

    private MergeJob(TensorMerger merger, List<Input> models, Input base, List<String> tensorParameters,
                     List<TensorInfo> outputs) {
        this.merger = merger;
        this.models = models;
        this.base = base;
        this.tensorParameters = tensorParameters;
        this.outputs = outputs;
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
        if (dtype != null && !dtype.isFloatingPoint()) {
            throw new MergeException("dtype: " + dtype + " is not a floating-point type");
        }
        List<String> names = new ArrayList<>();
        List<Map<String, Object>> params = new ArrayList<>();
        for (Input in : models) {
            names.add(in.name());
            params.add(in.parameters());
        }
        TensorMerger merger = method.bind(new MergeSpec(names, params, parameters, base != null));
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
        List<TensorInfo> outputs = new ArrayList<>(refInfos.size());
        for (TensorInfo info : refInfos) {
            DType out = dtype != null && info.dtype().isFloatingPoint() ? dtype : info.dtype();
            outputs.add(new TensorInfo(info.name(), out, info.shape()));
        }
        return new MergeJob(merger, List.copyOf(models), base, keys, List.copyOf(outputs));
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
        return merger.twoPass();
    }

    /**
     * Merges every tensor and hands it to {@code sink}, in {@link #outputs()} order.
     *
     * @throws MergeException when a tensor's values are not finite
     */
    public void run(Sink sink, ProgressListener listener) {
        int passes = merger.twoPass() ? 2 : 1;
        int total = outputs.size() * passes;
        int done = 0;
        if (passes == 2) {
            for (TensorInfo info : outputs) {
                merger.observe(inputs(info.name()));
                listener.onTensor(++done, total, info.name());
            }
        }
        for (TensorInfo info : outputs) {
            try (Arena arena = Arena.ofConfined()) {
                Tensor merged = merger.merge(inputs(info.name()), info.dtype(), arena);
                sink.accept(info.name(), merged);
            }
            listener.onTensor(++done, total, info.name());
        }
    }

    private TensorInputs inputs(String name) {
        List<Tensor> tensors = new ArrayList<>(models.size());
        for (Input in : models) {
            tensors.add(in.source().tensor(name));
        }
        Map<String, List<Tensor>> extra = new HashMap<>();
        if (tensors.getFirst().dtype().isFloatingPoint()) {
            for (String key : tensorParameters) {
                List<Tensor> list = new ArrayList<>(models.size());
                for (Input in : models) {
                    list.add(((TensorSource) in.parameters().get(key)).tensor(name));
                }
                extra.put(key, list);
            }
        }
        return new TensorInputs(name, tensors, base == null ? null : base.source().tensor(name), extra);
    }
}
