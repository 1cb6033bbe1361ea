package dev.tributary.merge.lora;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tributary.merge.MergeException;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.SafetensorsWriter;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;
import org.ejml.data.DMatrixRMaj;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Extracts a LoRA adapter from a fine-tuned model (mergekit's method): for every 2-D {@code *.weight}
 * whose delta δ = tuned − base is non-zero, the truncated SVD δ ≈ U·Σ·Vᵀ gives A = √Σ·Vᵀ and B = U·√Σ
 * with rank r = min(R, number of singular values above σ_max·max(m,n)·2⁻²³), α = r, so the scale is 1
 * (or a given α, the factors then scaled by √(r/α) each), optionally only for given target modules.
 * The result is written in PEFT's layout ({@code adapter_config.json} and {@code adapter_model.safetensors})
 * so that PEFT loads it; modules with fewer than R useful directions get {@code rank_pattern} and
 * {@code alpha_pattern} entries. Embedding modules (named {@code embed_tokens}, {@code wte}, {@code wpe},
 * {@code word_embeddings}, {@code embed_in}, {@code tok_embeddings}, {@code embed_positions},
 * {@code position_embeddings}, {@code token_type_embeddings}, {@code shared}) use PEFT's
 * {@code lora_embedding_A}/{@code lora_embedding_B} keys. Deltas that are not 2-D weights cannot be
 * expressed as LoRA; they are reported with {@link Kind#NOT_LOW_RANK}, never dropped silently.
 */
public final class LoraExtract {
    private static final Set<String> EMBEDDINGS = Set.of("embed_tokens", "wte", "wpe", "word_embeddings", "embed_in",
            "tok_embeddings", "embed_positions", "position_embeddings", "token_type_embeddings", "shared");
    private static final double RANK_EPS = 0x1.0p-23;

    /** What became of a tensor that differs between base and tuned model. */
    public enum Kind { LINEAR, EMBEDDING, NOT_LOW_RANK, NOT_TARGETED }

    /**
     * One changed tensor.
     *
     * @param tensor the tensor's name
     * @param kind   how it was captured
     * @param rank   rank of its adapter (0 when it was left out)
     * @param energy fraction of the delta's energy captured, Σσ²(kept) / Σσ² (0 when it was left out)
     */
    public record Extracted(String tensor, Kind kind, int rank, double energy) {}

    /**
     * @param outDir  the adapter folder
     * @param changed every tensor that differs, in model order
     */
    public record Result(Path outDir, List<Extracted> changed) {
        public Result {
            changed = List.copyOf(changed);
        }
    }

    private LoraExtract() {}

    /** {@link #run(Path, Path, int, Double, List, Path, ProgressListener)} with α = r and every module targeted. */
    public static Result run(Path base, Path tuned, int rank, Path outDir, ProgressListener listener) {
        return run(base, tuned, rank, null, List.of(), outDir, listener);
    }

    /**
     * Extracts an adapter of rank at most {@code rank} from {@code tuned} relative to {@code base} into
     * {@code outDir}.
     *
     * @param alpha         the adapter's {@code lora_alpha}, or null for α = r per module (scale 1, mergekit's
     *                      choice); with an α the factors are scaled by √(r/α) each so that (α/r)·B·A is still
     *                      the truncated delta
     * @param targetModules PEFT-style names (a module matches when its name equals one or ends with "." + one);
     *                      empty for every 2-D weight. Changed weights of other modules are reported as
     *                      {@link Kind#NOT_TARGETED}
     * @throws MergeException when the models do not have the same tensors, shapes and dtypes, a target matches
     *                        no 2-D weight, or no targeted 2-D weight differs
     */
    public static Result run(Path base, Path tuned, int rank, Double alpha, List<String> targetModules, Path outDir,
                             ProgressListener listener) {
        if (rank < 1) {
            throw new MergeException("--rank: " + rank + " must be at least 1");
        }
        if (alpha != null && !(alpha > 0 && Double.isFinite(alpha))) {
            throw new MergeException("--alpha: " + alpha + " must be a positive number");
        }
        for (String t : targetModules) {
            if (t.isBlank()) {
                throw new MergeException("--target-modules: an empty module name");
            }
        }
        try (TensorSource b = LoraMerge.open(base, "--base");
             TensorSource t = LoraMerge.open(tuned, "--tuned");
             Arena adapters = Arena.ofConfined()) {
            sameTensors(b, t);
            checkTargets(b.infos(), targetModules);
            List<Extracted> changed = new ArrayList<>();
            Map<String, Tensor> weights = new LinkedHashMap<>();
            Map<String, Integer> ranks = new LinkedHashMap<>();
            List<TensorInfo> infos = b.infos();
            int done = 0;
            for (TensorInfo info : infos) {
                Extracted e = extract(info, b.tensor(info.name()), t.tensor(info.name()), rank, alpha,
                        targetModules, weights, adapters);
                if (e != null) {
                    changed.add(e);
                    if (e.kind() == Kind.LINEAR || e.kind() == Kind.EMBEDDING) {
                        ranks.put(module(info.name()), e.rank());
                    }
                }
                listener.onTensor(++done, infos.size(), info.name());
            }
            if (ranks.isEmpty()) {
                throw new MergeException("--tuned: no " + (targetModules.isEmpty() ? "" : "targeted ")
                        + "2-D weight differs from --base; there is nothing to extract");
            }
            writeAdapter(outDir, weights, ranks, rank, alpha, base);
            return new Result(outDir, changed);
        }
    }

    private static void sameTensors(TensorSource base, TensorSource tuned) {
        Map<String, TensorInfo> byName = new HashMap<>();
        tuned.infos().forEach(i -> byName.put(i.name(), i));
        for (TensorInfo info : base.infos()) {
            TensorInfo other = byName.remove(info.name());
            if (other == null) {
                throw new MergeException("--tuned: tensor " + info.name() + ": missing (present in --base)");
            }
            if (!Shapes.same(other.shape(), info.shape()) || other.dtype() != info.dtype()) {
                throw new MergeException("--tuned: tensor " + info.name() + ": " + other.dtype() + " "
                        + Shapes.toString(other.shape()) + " != " + info.dtype() + " " + Shapes.toString(info.shape())
                        + " of --base");
            }
        }
        if (!byName.isEmpty()) {
            throw new MergeException("--tuned: tensor " + byName.keySet().iterator().next() + ": not in --base");
        }
    }

    private static boolean targeted(String module, List<String> targets) {
        if (targets.isEmpty()) {
            return true;
        }
        for (String t : targets) {
            if (module.equals(t) || module.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    private static boolean lowRankCandidate(TensorInfo info) {
        return info.shape().length == 2 && info.name().endsWith(".weight") && info.dtype().isFloatingPoint();
    }

    private static void checkTargets(List<TensorInfo> infos, List<String> targets) {
        for (String t : targets) {
            boolean any = infos.stream().anyMatch(i -> lowRankCandidate(i) && targeted(module(i.name()), List.of(t)));
            if (!any) {
                throw new MergeException("--target-modules: " + t + " matches no 2-D weight of --base");
            }
        }
    }

    private static Extracted extract(TensorInfo info, Tensor base, Tensor tuned, int maxRank, Double alpha,
                                     List<String> targets, Map<String, Tensor> weights, Arena adapters) {
        String name = info.name();
        if (!info.dtype().isFloatingPoint()) {
            return base.contentEquals(tuned) ? null : new Extracted(name, Kind.NOT_LOW_RANK, 0, 0);
        }
        long[] shape = info.shape();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = base.toF32(arena).data();
            MemorySegment y = tuned.toF32(arena).data();
            long n = info.numel();
            boolean differs = false;
            for (long i = 0; i < n; i++) {
                float d = y.get(Tensor.F32_LE, i * 4) - x.get(Tensor.F32_LE, i * 4);
                if (!Float.isFinite(d)) {
                    throw new MergeException("tensor " + name + ": element " + i + " of the delta is not finite");
                }
                differs |= d != 0f;
            }
            if (!differs) {
                return null;
            }
            boolean fits = shape.length == 2 && shape[0] <= Integer.MAX_VALUE / Math.max(1, shape[1]);
            if (!fits || !name.endsWith(".weight")) {
                return new Extracted(name, Kind.NOT_LOW_RANK, 0, 0);
            }
            if (!targeted(module(name), targets)) {
                return new Extracted(name, Kind.NOT_TARGETED, 0, 0);
            }
            int rows = (int) shape[0];
            int cols = (int) shape[1];
            DMatrixRMaj delta = new DMatrixRMaj(rows, cols);
            double total = 0;
            for (int i = 0; i < rows * cols; i++) {
                double d = y.get(Tensor.F32_LE, i * 4L) - x.get(Tensor.F32_LE, i * 4L);
                delta.data[i] = (float) d;
                total += delta.data[i] * delta.data[i];
            }
            TruncatedSvd.Result svd = TruncatedSvd.top(delta, maxRank, name.hashCode(), "tensor " + name);
            double cutoff = svd.sigma()[0] * Math.max(rows, cols) * RANK_EPS;
            int r = 0;
            double kept = 0;
            while (r < svd.sigma().length && svd.sigma()[r] > cutoff) {
                kept += svd.sigma()[r] * svd.sigma()[r];
                r++;
            }
            String module = module(name);
            boolean embedding = EMBEDDINGS.contains(module.substring(module.lastIndexOf('.') + 1));
            // Linear: A = √Σ·Vᵀ (r × in), B = U·√Σ (out × r). Embedding: ΔW = (B·A)ᵀ, so A = √Σ·Uᵀ, B = V·√Σ.
            Tensor a = Tensor.allocate(DType.F32, new long[] {r, embedding ? rows : cols}, adapters);
            Tensor bm = Tensor.allocate(DType.F32, new long[] {embedding ? cols : rows, r}, adapters);
            // with lora_alpha = α the merge scales B·A by α/r, so each factor carries √(r/α) of the inverse
            double carry = alpha == null ? 1 : Math.sqrt(r / alpha);
            for (int k = 0; k < r; k++) {
                double s = Math.sqrt(svd.sigma()[k]) * carry;
                for (int j = 0; j < cols; j++) {
                    float v = (float) (s * svd.vt().get(k, j));
                    if (embedding) {
                        bm.setFloat((long) j * r + k, v);
                    } else {
                        a.setFloat((long) k * cols + j, v);
                    }
                }
                for (int i = 0; i < rows; i++) {
                    float u = (float) (s * svd.u().get(i, k));
                    if (embedding) {
                        a.setFloat((long) k * rows + i, u);
                    } else {
                        bm.setFloat((long) i * r + k, u);
                    }
                }
            }
            String prefix = AdapterModules.PREFIX + module;
            weights.put(prefix + (embedding ? AdapterModules.EMBED_A : AdapterModules.A), a);
            weights.put(prefix + (embedding ? AdapterModules.EMBED_B : AdapterModules.B), bm);
            return new Extracted(name, embedding ? Kind.EMBEDDING : Kind.LINEAR, r, kept / total);
        }
    }

    private static String module(String weight) {
        return weight.substring(0, weight.length() - ".weight".length());
    }

    private static void writeAdapter(Path outDir, Map<String, Tensor> weights, Map<String, Integer> ranks, int rank,
                                     Double alpha, Path base) {
        try {
            Files.createDirectories(outDir);
            List<TensorInfo> infos = new ArrayList<>();
            weights.forEach((k, v) -> infos.add(v.info(k)));
            try (SafetensorsWriter w = SafetensorsWriter.create(outDir.resolve(LoraMerge.ADAPTER_FILE), infos,
                    Map.of("format", "pt"))) {
                weights.forEach(w::write);
            }
            Map<String, Object> rankPattern = new LinkedHashMap<>();
            ranks.forEach((m, r) -> {
                if (r != rank) {
                    rankPattern.put(m.replace(".", "\\."), r);
                }
            });
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("peft_type", "LORA");
            config.put("base_model_name_or_path", base.toString());
            config.put("task_type", null);
            config.put("r", rank);
            config.put("lora_alpha", alpha == null ? (Object) rank
                    : alpha == Math.rint(alpha) && Math.abs(alpha) < 1e15 ? (Object) alpha.longValue() : alpha);
            config.put("target_modules", List.copyOf(ranks.keySet()));
            config.put("rank_pattern", rankPattern);
            config.put("alpha_pattern", alpha == null ? rankPattern : Map.of());
            config.put("use_rslora", false);
            config.put("fan_in_fan_out", false);
            config.put("lora_dropout", 0.0);
            config.put("bias", "none");
            config.put("modules_to_save", null);
            config.put("init_lora_weights", true);
            config.put("inference_mode", true);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValue(outDir.resolve(LoraMerge.CONFIG_FILE).toFile(), config);
        } catch (IOException e) {
            throw new UncheckedIOException(outDir + ": cannot write the adapter: " + e.getMessage(), e);
        }
    }
}
