package dev.tributary.coordinator.validation;

import dev.tributary.codec.Codec;
import dev.tributary.coordinator.CoordinatorConfig.NormPolicy;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Everything an update must satisfy before it reaches the strategy: a UUID id, sane counts, a known
 * codec, a size within the limit, and a delta whose tensors have exactly the model's names, shapes and
 * dtypes (under Streaming DiLoCo, some of them, a tensor cut by a fragment as a 1-D slice of it), whose values are all finite, and whose L2 norm (over all tensors together) is within the bound
 * (refused, or scaled down to it). Each failure is a {@link Refusal} naming the tensor and the rule.
 */
public final class UpdateValidator {
    /** Metrics an update may carry. */
    public static final int MAX_METRICS = 64;
    /** Longest worker id, in UTF-8 bytes. */
    public static final int MAX_WORKER_ID_BYTES = 256;
    /** Longest metric name, in UTF-8 bytes. */
    public static final int MAX_METRIC_NAME_BYTES = 128;

    /** The codec name of plain safetensors deltas (also what an empty codec means). */
    public static final String SAFETENSORS = "safetensors";
    /** Longest codec spec, in UTF-8 bytes (a canonical spec fits in 255). */
    public static final int MAX_CODEC_BYTES = 255;

    private final Map<String, TensorInfo> model = new LinkedHashMap<>();
    private final long maxBytes;
    private final double maxNorm;
    private final NormPolicy policy;
    private final boolean partial;
    /** Under Streaming DiLoCo, the shapes a fragment's slice of each tensor may have besides the whole tensor's. */
    private final Map<String, List<long[]>> sliceShapes = new java.util.HashMap<>();

    /**
     * @param model    the model's tensors
     * @param maxBytes largest delta image accepted; 0 for the model's data size plus 1 MiB
     * @param maxNorm  L2 bound; 0 for none
     */
    public UpdateValidator(List<TensorInfo> model, long maxBytes, double maxNorm, NormPolicy policy) {
        this(model, maxBytes, maxNorm, policy, List.of());
    }

    /**
     * @param fragments the layout of each fragment ({@code Fragments.layout}) when a delta may hold one
     *                  fragment's values (Streaming DiLoCo pushes the fragment due; the strategy checks that
     *                  it is there); empty for whole deltas
     */
    public UpdateValidator(List<TensorInfo> model, long maxBytes, double maxNorm, NormPolicy policy,
            List<List<TensorInfo>> fragments) {
        this.partial = !fragments.isEmpty();
        for (List<TensorInfo> f : fragments) {
            for (TensorInfo t : f) {
                sliceShapes.computeIfAbsent(t.name(), k -> new java.util.ArrayList<>()).add(t.shape());
            }
        }
        long data = 0;
        for (TensorInfo t : model) {
            this.model.put(t.name(), t);
            data += t.byteSize();
        }
        this.maxBytes = maxBytes > 0 ? maxBytes : data + (1 << 20);
        this.maxNorm = maxNorm;
        this.policy = policy;
    }

    public long maxBytes() {
        return maxBytes;
    }

    /**
     * Checks everything an update's header says before any of its bytes are accepted: every string and
     * count is bounded well within what the update log can hold, and every metric value is finite.
     */
    public void checkHeader(dev.tributary.protocol.UpdateHeader h) {
        if (h.getBaseVersion() < 0) {
            throw Refusal.precondition("base_version", "base_version " + h.getBaseVersion() + ": must be ≥ 0");
        }
        checkHeader(h.getUpdateId(), h.getExamples(), h.getLocalSteps(), h.getMetricsCount(), h.getDeltaBytes(), h.getCodec());
        checkStrings(h.getWorkerId(), h.getMetricsMap());
    }

    /** Bounds the worker id and the metrics' names; refuses non-finite metric values. */
    public static void checkStrings(String workerId, Map<String, Double> metrics) {
        int w = utf8Length(workerId);
        if (w > MAX_WORKER_ID_BYTES) {
            throw Refusal.invalid("malformed", "worker_id of " + w + " bytes: longer than " + MAX_WORKER_ID_BYTES);
        }
        if (metrics.size() > MAX_METRICS) {
            throw Refusal.invalid("malformed", "metrics: " + metrics.size() + " entries > " + MAX_METRICS);
        }
        for (Map.Entry<String, Double> e : metrics.entrySet()) {
            String name = e.getKey();
            int n = utf8Length(name);
            if (n == 0 || n > MAX_METRIC_NAME_BYTES) {
                throw Refusal.invalid("malformed", "metric name of " + n + " bytes \"" + abbreviate(name)
                        + "\": must be 1 to " + MAX_METRIC_NAME_BYTES + " bytes");
            }
            if (!Double.isFinite(e.getValue())) {
                throw Refusal.invalid("malformed", "metric " + name + ": value " + e.getValue() + " is not finite");
            }
        }
    }

    private static int utf8Length(String s) {
        return s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "…";
    }

    /** Checks the fixed fields of an update's header. */
    public void checkHeader(String updateId, long examples, int localSteps, int metricCount, long deltaBytes, String codec) {
        if (updateId.length() != 36) {
            throw Refusal.invalid("malformed", "update_id \"" + abbreviate(updateId) + "\": not a UUID");
        }
        try {
            UUID.fromString(updateId);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("malformed", "update_id \"" + updateId + "\": not a UUID");
        }
        if (examples < 0) {
            throw Refusal.invalid("malformed", "examples " + examples + ": must be ≥ 0");
        }
        if (localSteps < 0) {
            throw Refusal.invalid("malformed", "local_steps " + localSteps + ": must be ≥ 0");
        }
        if (metricCount > MAX_METRICS) {
            throw Refusal.invalid("malformed", "metrics: " + metricCount + " entries > " + MAX_METRICS);
        }
        if (!codec.isEmpty() && !codec.equals(SAFETENSORS)) {
            if (utf8Length(codec) > MAX_CODEC_BYTES) {
                throw Refusal.invalid("codec", "codec of " + utf8Length(codec) + " bytes \"" + abbreviate(codec)
                        + "\": longer than " + MAX_CODEC_BYTES);
            }
            try {
                Codec.parse(codec);
            } catch (IllegalArgumentException e) {
                throw Refusal.invalid("codec", e.getMessage() + "; or safetensors");
            }
        }
        if (deltaBytes <= 0) {
            throw Refusal.invalid("malformed", "delta_bytes " + deltaBytes + ": must be > 0");
        }
        if (deltaBytes > maxBytes) {
            throw Refusal.tooLarge("size", "delta_bytes " + deltaBytes + " > limit " + maxBytes);
        }
    }

    /**
     * Refuses an update based on a version the coordinator has not published yet.
     *
     * @throws Refusal FAILED_PRECONDITION, reason {@code base_version}
     */
    public static void checkBaseVersion(long base, long current) {
        if (base > current) {
            throw Refusal.precondition("base_version", "base_version " + base + " is unknown: current version is " + current);
        }
    }

    private boolean isSliceShape(String name, long[] shape) {
        for (long[] s : sliceShapes.getOrDefault(name, List.of())) {
            if (Shapes.same(s, shape)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Decodes and checks a delta image; with the clip policy an over-norm delta is scaled down in place.
     *
     * @return the delta's tensors, views of {@code image}
     */
    public TensorMap checkDelta(MemorySegment image) {
        TensorMap delta;
        try {
            delta = ModelImage.tensors(image, "delta");
        } catch (InvalidCheckpointException e) {
            throw Refusal.invalid("malformed", e.getMessage());
        }
        for (String name : delta.names()) {
            if (!model.containsKey(name)) {
                throw Refusal.invalid("unknown_tensor", "tensor " + name + ": not in the model");
            }
        }
        double sumSquares = 0;
        for (TensorInfo want : model.values()) {
            String name = want.name();
            if (!delta.contains(name)) {
                if (partial) {
                    continue;
                }
                throw Refusal.invalid("missing_tensor", "tensor " + name + ": missing from the update");
            }
            Tensor t = delta.tensor(name);
            if (t.dtype() != want.dtype()) {
                throw Refusal.invalid("dtype", "tensor " + name + ": dtype " + t.dtype() + " != " + want.dtype());
            }
            if (!Shapes.same(t.shape(), want.shape()) && !isSliceShape(name, t.shape())) {
                throw Refusal.invalid("shape", "tensor " + name + ": shape " + Shapes.toString(t.shape()) + " != "
                        + Shapes.toString(want.shape()));
            }
            double norm = checkFinite(name, t);
            sumSquares += norm * norm;
        }
        double norm = Math.sqrt(sumSquares);
        if (maxNorm > 0 && norm > maxNorm) {
            if (policy == NormPolicy.REFUSE) {
                throw Refusal.invalid("norm", "delta L2 norm " + norm + " > bound " + maxNorm);
            }
            float scale = (float) (maxNorm / norm);
            for (Tensor t : delta.asMap().values()) {
                scaleInPlace(t, scale);
            }
        }
        return delta;
    }

    /** Refuses non-finite values; returns the tensor's L2 norm. */
    private static double checkFinite(String name, Tensor t) {
        if (t.dtype() == DType.F32) {
            // One pass for both: squares of f32 values summed in f64 cannot overflow, so the norm is
            // finite exactly when every value is.
            double norm = Kernels.l2Norm(t.data(), t.numel());
            if (!Double.isFinite(norm)) {
                long i = firstNonFinite(t);
                throw Refusal.invalid("non_finite", "tensor " + name + ": "
                        + (i < 0 ? "L2 norm " + norm : "value " + t.getFloat(i) + " at index " + i) + " is not finite");
            }
            return norm;
        }
        if (!t.dtype().isArithmetic()) {
            throw Refusal.invalid("dtype", "tensor " + name + ": dtype " + t.dtype() + " holds no numbers to check");
        }
        double s = 0;
        for (long i = 0; i < t.numel(); i++) {
            float v = t.getFloat(i);
            if (!Float.isFinite(v)) {
                throw Refusal.invalid("non_finite", "tensor " + name + ": value " + v + " at index " + i + " is not finite");
            }
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }

    private static long firstNonFinite(Tensor t) {
        for (long i = 0; i < t.numel(); i++) {
            if (!Float.isFinite(t.getFloat(i))) {
                return i;
            }
        }
        return -1;
    }

    private static void scaleInPlace(Tensor t, float a) {
        if (t.dtype() == DType.F32) {
            Kernels.scale(t.data(), t.numel(), a);
            return;
        }
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, t.getFloat(i) * a);
        }
    }
}
