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
import java.util.List;
import java.util.Map;

/**
 * Folds a PEFT LoRA adapter into a base model, W + s·B·A (or out of it with {@code unmerge}, W − s·B·A),
 * streaming the base tensor by tensor. The arithmetic is f32; each merged weight is written back in
 * its own dtype, rounded to nearest even. Every adapter module must match a base weight, its rank and
 * shapes must agree with the config, and {@code target_modules} must select it.
 */
public final class LoraMerge {
    /** Adapter weights file in a PEFT adapter folder. */
    public static final String ADAPTER_FILE = "adapter_model.safetensors";
    /** Adapter config in a PEFT adapter folder. */
    public static final String CONFIG_FILE = "adapter_config.json";
    private static final long SHARD_SIZE = 5_000_000_000L;

    private LoraMerge() {}

    /**
     * What was written.
     *
     * @param out     the output (a file or a folder)
     * @param modules names of the modules whose weights were changed
     * @param tensors number of tensors written
     */
    public record Result(Path out, List<String> modules, int tensors) {
        public Result {
            modules = List.copyOf(modules);
        }
    }

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
            Map<String, AdapterModules.Module> byWeight = plan(config, adapter, model);
            List<TensorInfo> infos = model.infos();
            Writer writer = Writer.open(out, infos, model.metadata());
            int done = 0;
            boolean finished = false;
            try {
                for (TensorInfo info : infos) {
                    AdapterModules.Module m = byWeight.get(info.name());
                    if (m == null) {
                        writer.write(info.name(), model.tensor(info.name()));
                    } else {
                        try (Arena arena = Arena.ofConfined()) {
                            Tensor w = merged(model.tensor(info.name()), adapter, m, config, unmerge, arena);
                            writer.write(info.name(), w);
                        }
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
            List<String> modules = new ArrayList<>();
            byWeight.values().forEach(m -> modules.add(m.name()));
            return new Result(out, modules, infos.size());
        }
    }

    private static Map<String, AdapterModules.Module> plan(LoraConfig config, TensorSource adapter,
                                                           TensorSource model) {
        Map<String, TensorInfo> baseInfos = new HashMap<>();
        model.infos().forEach(i -> baseInfos.put(i.name(), i));
        Map<String, TensorInfo> adapterInfos = new HashMap<>();
        adapter.infos().forEach(i -> adapterInfos.put(i.name(), i));
        Map<String, AdapterModules.Module> byWeight = new HashMap<>();
        for (AdapterModules.Module m : AdapterModules.parse(adapter.names(), ADAPTER_FILE)) {
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
            byWeight.put(weight, m);
        }
        return byWeight;
    }

    private static Tensor merged(Tensor w, TensorSource adapter, AdapterModules.Module m, LoraConfig config,
                                 boolean unmerge, Arena arena) {
        Tensor w32 = w.toF32(arena);
        Tensor a = f32(adapter.tensor(m.aKey()), arena);
        Tensor b = f32(adapter.tensor(m.bKey()), arena);
        int r = (int) a.shape()[0];
        double scale = config.scale(m.name()) * (unmerge ? -1 : 1);
        LoraMath.apply(w32.data(), w.shape()[0], w.shape()[1], a.data(), b.data(), r, scale,
                m.embedding() || config.fanInFanOut(), arena);
        return w.dtype() == DType.F32 ? w32 : w32.castTo(w.dtype(), arena);
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
