package dev.tributary.worker.client;

import dev.tributary.codec.ErrorFeedback;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Writes the worker's updates as they go on the wire: plain safetensors, or a codec's message, with error
 * feedback around a lossy codec when asked. An update is encoded once, when it is made, and its file is
 * pushed as is on every retry, so a retry never advances the residual.
 *
 * <p>Each slot (the fragment under Streaming DiLoCo, else slot 0) has its own residual, for its own tensors.
 * The residual of a slot last pushed from base b is carried into the next update of that slot, from base b',
 * only when {@code b <= b' <= b + efMaxJump × stride} (stride: the versions between two pushes of the same
 * slot, the fragment count under Streaming DiLoCo, else 1); the same base again is normal under FedBuff,
 * whose version moves only when its buffer fills. Otherwise it is reset with one log line: a base that
 * went back (the coordinator restored an older state: what the residual made up for may or may not be
 * in the model) or jumped far (the model moved on so far that the missing part no longer fits it). It is
 * also reset when the coordinator refuses an update outright: the message never reached the model, so the
 * residual no longer measures what the model misses.
 */
public final class DeltaEncoder implements AutoCloseable {
    private final WireOptions options;
    private final int stride;
    private final Consumer<String> log;
    private final Map<Integer, ErrorFeedback> feedback = new HashMap<>();
    private final Map<Integer, Long> lastBase = new HashMap<>();
    private final Map<Integer, List<TensorInfo>> layouts = new HashMap<>();

    /** An update as it will be pushed: the codec to name in its header, and its bytes' file. */
    public record Encoded(String codec, Path file) {}

    /**
     * @param stride versions between two pushes of one slot (≥ 1)
     */
    public DeltaEncoder(WireOptions options, int stride, Consumer<String> log) {
        if (stride < 1) {
            throw new IllegalArgumentException("stride < 1: " + stride);
        }
        this.options = options;
        this.stride = stride;
        this.log = log;
    }

    /** Writes {@code delta}, computed from {@code baseVersion}, to {@code file} as it will be pushed. */
    public Encoded encode(int slot, long baseVersion, TensorMap delta, Path file) throws IOException {
        if (options.codec() == null) {
            Safetensors.write(file, delta);
            return new Encoded("safetensors", file);
        }
        byte[] bytes;
        if (options.errorFeedback()) {
            ErrorFeedback ef = feedback.computeIfAbsent(slot, s -> ErrorFeedback.of(options.codec()));
            Long last = lastBase.get(slot);
            if (last != null && (baseVersion < last || baseVersion > last + (long) options.efMaxJump() * stride)) {
                log.accept(ef.reset("base jumped from v" + last + " to v" + baseVersion
                        + (slot == 0 && stride == 1 ? "" : " for fragment " + slot)));
            } else if (ef.steps() > 0 && !delta.infos().equals(layouts.get(slot))) {
                log.accept(ef.reset("the update's tensors changed"));
            }
            bytes = ef.encode(delta);
            lastBase.put(slot, baseVersion);
            layouts.put(slot, delta.infos());
        } else {
            bytes = options.codec().encode(delta);
        }
        Path part = file.resolveSibling(file.getFileName() + ".part");
        Files.write(part, bytes);
        Files.move(part, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Encoded(options.codec().spec(), file);
    }

    /** The coordinator refused the update of {@code slot} outright: its residual is reset (one log line). */
    public void refused(int slot, String why) {
        ErrorFeedback ef = feedback.get(slot);
        if (ef != null && ef.steps() > 0) {
            log.accept(ef.reset("update refused: " + why));
            lastBase.remove(slot);
        }
    }

    /** L2 norm of a slot's residual; 0 when there is none. */
    public double residualNorm(int slot) {
        ErrorFeedback ef = feedback.get(slot);
        return ef == null ? 0 : ef.stateNorm();
    }

    /** Updates encoded with a slot's residual since it was last reset. */
    public long residualSteps(int slot) {
        ErrorFeedback ef = feedback.get(slot);
        return ef == null ? 0 : ef.steps();
    }

    @Override
    public void close() {
        feedback.values().forEach(ErrorFeedback::close);
        feedback.clear();
    }
}
