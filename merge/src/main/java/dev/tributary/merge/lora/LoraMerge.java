package dev.tributary.merge.lora;

import dev.tributary.merge.MergeException;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.CheckpointWriter;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.SafetensorsWriter;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;

import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Folds a PEFT LoRA adapter into a base model, W + s·B·A (or out of it with {@code unmerge}, W − s·B·A),
 * streaming the base tensor by tensor, as PEFT's {@code merge_and_unload()} does. The arithmetic is f32;
 * each merged weight is written back in its own dtype, rounded to nearest even. Every adapter module must
 * match a base weight, its rank and shapes must agree with the config, and {@code target_modules} must
 * select it.
 *
 * <p>Besides the LoRA matrices an adapter may hold:
 * <ul>
 *   <li>DoRA magnitude vectors ({@code use_dora}): W' = m·V / ‖V‖ with V = W + s·ΔW and ‖V‖ the L2 norm of
 *       each output (a row of an (out, in) weight, a column of a fan_in_fan_out weight or an embedding), as
 *       PEFT's {@code DoraLinearVariant} and {@code DoraEmbeddingVariant} merge. DoRA's merge cannot be
 *       inverted from W' alone (any positive multiple of V has the same direction), so the merge writes the
 *       norms ‖V‖ beside its output ({@link #doraNormsFile}) and the unmerge reads them there: W = W'·‖V‖/m − s·ΔW,
 *       PEFT's unmerge with its cached norms.</li>
 *   <li>whole tensors that replace the base's: the embedding PEFT saves with {@code save_embedding_layers}
 *       (its default when an embedding is targeted; key {@code <module>.base_layer.weight}), which becomes W
 *       before the module's ΔW is added, and the modules of {@code modules_to_save} (and biases, with
 *       {@code bias} "all" or "lora_only"), copied as they are. Each is cast to the base tensor's dtype, as
 *       loading it into the model does. Unmerging leaves them as the merged model has them, as PEFT's
 *       unmerge does (the replaced values are not in the adapter).</li>
 * </ul>
 */
public final class LoraMerge {
    /** Adapter weights file in a PEFT adapter folder. */
    public static final String ADAPTER_FILE = "adapter_model.safetensors";
    /** Adapter config in a PEFT adapter folder. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** The DoRA weight norms a merge writes into an output folder. */
    public static final String DORA_NORMS_FILE = "dora_norms.safetensors";
    private static final long SHARD_SIZE = 5_000_000_000L;
    /** PEFT's EMBEDDING_LAYER_NAMES: save_embedding_layers saves these whole. */
    private static final Set<String> EMBEDDING_LAYERS = Set.of("embed_tokens", "lm_head");

    private LoraMerge() {}

    /**
     * What was written.
     *
     * @param out      the output (a file or a folder)
     * @param modules  names of the modules whose weights were changed
     * @param dora     how many of them are DoRA modules
     * @param replaced names of the base tensors replaced by whole tensors of the adapter (merge only)
     * @param tensors  number of tensors written
     */
    public record Result(Path out, List<String> modules, int dora, List<String> replaced, int tensors) {
        public Result {
            modules = List.copyOf(modules);
            replaced = List.copyOf(replaced);
        }
    }

    /**
     * Where the DoRA weight norms of a merged checkpoint are: {@code dora_norms.safetensors} in its folder,
     * or {@code NAME.dora_norms.safetensors} beside a single {@code NAME.safetensors} file.
     */
    public static Path doraNormsFile(Path checkpoint) {
        String name = checkpoint.getFileName().toString();
        if (name.endsWith(".safetensors")) {
            return checkpoint.resolveSibling(name.substring(0, name.length() - ".safetensors".length()) + "."
                    + DORA_NORMS_FILE);
        }
        if (name.endsWith(".index.json")) {
            return checkpoint.resolveSibling(DORA_NORMS_FILE);
        }
        return checkpoint.resolve(DORA_NORMS_FILE);
    }

    private record Plan(Map<String, AdapterModules.Module> byWeight, Map<String, AdapterModules.Replacement> replacements,
                        int dora) {}

    /**
     * Merges (or unmerges) the adapter in {@code adapterDir} into the checkpoint {@code base}.
     *
     * @param out a {@code .safetensors} file, or a folder that receives {@code model.safetensors} (or shards)
     * @throws MergeException naming the file, module and key when adapter and base do not fit
     */
    public static Result run(Path base, Path adapterDir, Path out, boolean unmerge, ProgressListener listener) {
        LoraConfig config = LoraConfig.read(adapterDir.resolve(CONFIG_FILE));
        Path adapterFile = adapterDir.resolve(ADAPTER_FILE);
        if (!Files.isRegularFile(adapterFile)) {
            throw new MergeException(adapterFile + ": missing (only safetensors adapters are read)");
        }
        try (TensorSource adapter = open(adapterFile, "--adapter");
             TensorSource model = open(base, "--base")) {
            Plan plan = plan(config, adapter, model);
            Map<String, float[]> norms = unmerge && plan.dora() > 0 ? readNorms(base, plan) : new LinkedHashMap<>();
            List<TensorInfo> infos = model.infos();
            Writer writer = Writer.open(out, infos, model.metadata());
            List<String> replaced = new ArrayList<>();
            int done = 0;
            boolean finished = false;
            try {
                for (TensorInfo info : infos) {
                    AdapterModules.Module m = plan.byWeight().get(info.name());
                    AdapterModules.Replacement rep = unmerge ? null : plan.replacements().get(info.name());
                    try (Arena arena = Arena.ofConfined()) {
                        Tensor w = model.tensor(info.name());
                        if (rep != null) {
                            Tensor t = adapter.tensor(rep.key());
                            w = t.dtype() == info.dtype() ? t : t.toF32(arena).castTo(info.dtype(), arena);
                            replaced.add(info.name());
                        }
                        if (m != null) {
                            w = merged(w, adapter, m, config, unmerge, norms, arena);
                        }
                        writer.write(info.name(), w);
                    }
                    listener.onTensor(++done, infos.size(), info.name());
                }
                writer.close();
                finished = true;
            } finally {
                if (!finished) {
                    writer.abandon();
                }
            }
            if (!unmerge && plan.dora() > 0) {
                writeNorms(doraNormsFile(out), norms);
            }
            List<String> modules = new ArrayList<>();
            plan.byWeight().values().forEach(m -> modules.add(m.name()));
            return new Result(out, modules, plan.dora(), replaced, infos.size());
        }
    }

    private static Plan plan(LoraConfig config, TensorSource adapter, TensorSource model) {
        Map<String, TensorInfo> baseInfos = new HashMap<>();
        model.infos().forEach(i -> baseInfos.put(i.name(), i));
        Map<String, TensorInfo> adapterInfos = new HashMap<>();
        adapter.infos().forEach(i -> adapterInfos.put(i.name(), i));
        AdapterModules.Contents contents = AdapterModules.parse(adapter.names(), ADAPTER_FILE);
        Map<String, AdapterModules.Module> byWeight = new LinkedHashMap<>();
        int dora = 0;
        for (AdapterModules.Module m : contents.modules()) {
            String weight = m.name() + ".weight";
            TensorInfo w = baseInfos.get(weight);
            String where = "module " + m.name();
            if (w == null) {
                throw new MergeException(where + ": the base has no tensor " + weight);
            }
            if (!config.targets(m.name())) {
                throw new MergeException(where + ": not selected by adapter_config.json target_modules");
            }
            if (w.shape().length != 2 || !w.dtype().isFloatingPoint()) {
                throw new MergeException(where + ": base tensor " + weight + " is " + w.dtype() + " "
                        + Shapes.toString(w.shape()) + ", expected a 2-D floating-point weight");
            }
            long[] a = adapterInfos.get(m.aKey()).shape();
            long[] b = adapterInfos.get(m.bKey()).shape();
            int r = config.rank(m.name());
            boolean transposed = m.embedding() || config.fanInFanOut();
            long out = transposed ? w.shape()[1] : w.shape()[0];
            long in = transposed ? w.shape()[0] : w.shape()[1];
            if (a.length != 2 || a[0] != r || a[1] != in) {
                throw new MergeException(where + ": " + m.aKey() + " has shape " + Shapes.toString(a) + ", expected ["
                        + r + "," + in + "] (r from adapter_config.json, base " + weight + " "
                        + Shapes.toString(w.shape()) + ")");
            }
            if (b.length != 2 || b[0] != out || b[1] != r) {
                throw new MergeException(where + ": " + m.bKey() + " has shape " + Shapes.toString(b) + ", expected ["
                        + out + "," + r + "] (r from adapter_config.json, base " + weight + " "
                        + Shapes.toString(w.shape()) + ")");
            }
            if (m.magnitudeKey() != null && !config.useDora()) {
                throw new MergeException(where + ": " + m.magnitudeKey()
                        + ": a DoRA magnitude vector, but adapter_config.json has no use_dora: true");
            }
            if (m.magnitudeKey() == null && config.useDora()) {
                throw new MergeException(where + ": no lora_magnitude_vector, but adapter_config.json has use_dora: true");
            }
            if (m.magnitudeKey() != null) {
                long[] mag = adapterInfos.get(m.magnitudeKey()).shape();
                if (mag.length != 1 || mag[0] != out) {
                    throw new MergeException(where + ": " + m.magnitudeKey() + " has shape " + Shapes.toString(mag)
                            + ", expected [" + out + "] (one magnitude per output of " + weight + " "
                            + Shapes.toString(w.shape()) + ")");
                }
                dora++;
            }
            byWeight.put(weight, m);
        }
        Map<String, AdapterModules.Replacement> replacements = new HashMap<>();
        for (AdapterModules.Replacement rep : contents.replacements()) {
            String tensor = rep.tensor();
            int dot = tensor.lastIndexOf('.');
            String module = dot < 0 ? "" : tensor.substring(0, dot);
            String leaf = module.substring(module.lastIndexOf('.') + 1);
            boolean allowed = rep.baseLayer() ? config.targets(module)
                    : config.saves(module) || EMBEDDING_LAYERS.contains(leaf)
                    || (!config.bias().equals("none") && tensor.endsWith(".bias"));
            String where = ADAPTER_FILE + ": key " + rep.key();
            if (!allowed) {
                throw new MergeException(where + ": neither a LoRA matrix nor a tensor of a module in "
                        + "adapter_config.json modules_to_save" + (rep.baseLayer() ? " or target_modules" : ""));
            }
            TensorInfo b = baseInfos.get(tensor);
            if (b == null) {
                throw new MergeException(where + ": replaces " + tensor + ", which the base does not have");
            }
            TensorInfo t = adapterInfos.get(rep.key());
            if (!Shapes.same(t.shape(), b.shape())) {
                throw new MergeException(where + ": has shape " + Shapes.toString(t.shape()) + " but the base's "
                        + tensor + " has " + Shapes.toString(b.shape()) + " (a resized vocabulary is not supported)");
            }
            if (t.dtype() != b.dtype() && !(t.dtype().isFloatingPoint() && b.dtype().isFloatingPoint())) {
                throw new MergeException(where + ": is " + t.dtype() + " but the base's " + tensor + " is "
                        + b.dtype());
            }
            if (replacements.put(tensor, rep) != null) {
                throw new MergeException(where + ": a second replacement for " + tensor);
            }
        }
        return new Plan(byWeight, replacements, dora);
    }

    private static Tensor merged(Tensor w, TensorSource adapter, AdapterModules.Module m, LoraConfig config,
                                 boolean unmerge, Map<String, float[]> norms, Arena arena) {
        Tensor w32 = w.toF32(arena);
        Tensor a = f32(adapter.tensor(m.aKey()), arena);
        Tensor b = f32(adapter.tensor(m.bKey()), arena);
        int r = (int) a.shape()[0];
        long rows = w.shape()[0];
        long cols = w.shape()[1];
        boolean transposed = m.embedding() || config.fanInFanOut();
        double scale = config.scale(m.name());
        if (m.magnitudeKey() == null) {
            // PEFT adds a linear layer's f32 delta into the weight in place (one rounding) but casts an embedding's
            // delta, and every delta it subtracts, to the weight's dtype first (two roundings)
            DType rounding = unmerge || m.embedding() ? w.dtype() : null;
            LoraMath.apply(w32.data(), rows, cols, a.data(), b.data(), r, unmerge ? -scale : scale, transposed,
                    rounding, arena);
        } else {
            float[] magnitude = adapter.tensor(m.magnitudeKey()).toFloatArray();
            String weight = m.name() + ".weight";
            if (unmerge) {
                float[] factor = doraFactor(magnitude, norms.get(weight), weight);
                LoraMath.scaleOutputs(w32.data(), rows, cols, transposed, factor, true);
                LoraMath.apply(w32.data(), rows, cols, a.data(), b.data(), r, -scale, transposed, arena);
            } else {
                LoraMath.apply(w32.data(), rows, cols, a.data(), b.data(), r, scale, transposed, arena);
                float[] norm = LoraMath.outputNorms(w32.data(), rows, cols, transposed);
                norms.put(weight, norm);
                LoraMath.scaleOutputs(w32.data(), rows, cols, transposed, doraFactor(magnitude, norm, weight), false);
            }
        }
        return w.dtype() == DType.F32 ? w32 : w32.castTo(w.dtype(), arena);
    }

    /** PEFT's dora_factor m / ‖W + s·ΔW‖, refusing outputs that would come out infinite or NaN. */
    private static float[] doraFactor(float[] magnitude, float[] norm, String weight) {
        float[] factor = new float[magnitude.length];
        for (int o = 0; o < factor.length; o++) {
            factor[o] = magnitude[o] / norm[o];
            if (!Float.isFinite(factor[o]) || factor[o] == 0f) {
                throw new MergeException("module " + weight.substring(0, weight.length() - ".weight".length())
                        + ": output " + o + ": DoRA factor m/‖W + s·ΔW‖ = " + magnitude[o] + "/" + norm[o]
                        + " is not a finite non-zero number");
            }
        }
        return factor;
    }

    private static Map<String, float[]> readNorms(Path base, Plan plan) {
        Path file = doraNormsFile(base);
        if (!Files.isRegularFile(file)) {
            throw new MergeException(file + ": missing: unmerging a DoRA adapter needs the weight norms the merge "
                    + "wrote beside its output (the merged weights alone do not determine them)");
        }
        Map<String, float[]> norms = new LinkedHashMap<>();
        try (TensorSource src = open(file, "DoRA norms")) {
            Set<String> names = new HashSet<>(src.names());
            for (Map.Entry<String, AdapterModules.Module> e : plan.byWeight().entrySet()) {
                if (e.getValue().magnitudeKey() == null) {
                    continue;
                }
                if (!names.contains(e.getKey())) {
                    throw new MergeException(file + ": no norms for " + e.getKey()
                            + " (written for another adapter or base?)");
                }
                norms.put(e.getKey(), src.tensor(e.getKey()).toFloatArray());
            }
        }
        return norms;
    }

    private static void writeNorms(Path file, Map<String, float[]> norms) {
        List<TensorInfo> infos = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        norms.forEach((name, n) -> {
            Tensor t = Tensor.ofFloats(new long[] {n.length}, n);
            tensors.put(name, t);
            infos.add(t.info(name));
        });
        try (SafetensorsWriter w = SafetensorsWriter.create(file, infos,
                Map.of("format", "pt", "content", "DoRA weight norms ||W + s*dW|| per output, for lora merge --unmerge"))) {
            tensors.forEach(w::write);
        }
    }

    private static Tensor f32(Tensor t, Arena arena) {
        return t.dtype() == DType.F32 ? t : t.toF32(arena);
    }

    static TensorSource open(Path path, String what) {
        try {
            return Checkpoint.open(path);
        } catch (InvalidCheckpointException | UncheckedIOException e) {
            throw new MergeException(what + ": " + e.getMessage(), e);
        }
    }

    /** A single file or a checkpoint folder behind one write/close protocol. */
    private interface Writer {
        void write(String name, Tensor t);

        /** Finishes the output; when tensors are missing it removes the temporary files and throws. */
        void close();

        /** Gives up on an unfinished output, leaving the target untouched. */
        default void abandon() {
            try {
                close();
            } catch (RuntimeException expected) {
                // incomplete on purpose: close() removes the temporary files; the caller's failure is reported
            }
        }

        static Writer open(Path out, List<TensorInfo> infos, Map<String, String> metadata) {
            if (out.getFileName().toString().endsWith(".safetensors")) {
                SafetensorsWriter w = SafetensorsWriter.create(out, infos, metadata);
                return new Writer() {
                    @Override
                    public void write(String name, Tensor t) {
                        w.write(name, t);
                    }

                    @Override
                    public void close() {
                        w.close();
                    }
                };
            }
            CheckpointWriter w = CheckpointWriter.create(out, infos, metadata, SHARD_SIZE);
            return new Writer() {
                @Override
                public void write(String name, Tensor t) {
                    w.write(name, t);
                }

                @Override
                public void close() {
                    w.close();
                }
            };
        }
    }
}
