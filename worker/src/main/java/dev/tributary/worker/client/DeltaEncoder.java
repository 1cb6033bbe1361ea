package dev.tributary.worker.client;

import dev.tributary.codec.ErrorFeedback;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
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
 *
 * <p>With EF21 the message is the change of an estimate h that the coordinator keeps a copy of; the header
 * names the digest of h the message was coded against ({@link Encoded#estimateSha256}, empty for h = 0).
 * h takes the message in only once the coordinator acknowledged it ({@link #acked}); when the coordinator
 * holds another h (it restarted or evicted its copy) the same update is coded again from h = 0
 * ({@link #estimateRefused}, one log line), so nothing the worker trained is lost.
 */
public final class DeltaEncoder implements AutoCloseable {
    private final WireOptions options;
    private final int stride;
    private final Consumer<String> log;
    private final Map<Integer, ErrorFeedback> feedback = new HashMap<>();
    private final Map<Integer, Long> lastBase = new HashMap<>();
    private final Map<Integer, List<TensorInfo>> layouts = new HashMap<>();
    /** EF21: each slot's message not yet acknowledged, and the update it codes (to code it again from h = 0). */
    private final Map<Integer, ErrorFeedback.Pending> unacked = new HashMap<>();
    private final Map<Integer, Arena> updates = new HashMap<>();
    private final Map<Integer, TensorMap> updateCopies = new HashMap<>();

    /**
     * An update as it will be pushed: the codec to name in its header, and its bytes' file; {@code feedback}
     * the header's error_feedback ("", "ef", "ef21"), {@code estimateSha256} EF21's digest of h before the
     * message (empty for h = 0).
     */
    public record Encoded(String codec, Path file, String feedback, byte[] estimateSha256) {
        public Encoded(String codec, Path file) {
            this(codec, file, "", new byte[0]);
        }
    }

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
        String named = "";
        byte[] guard = new byte[0];
        if (options.errorFeedback()) {
            ErrorFeedback ef = feedback.computeIfAbsent(slot, s -> ErrorFeedback.of(options.codec(), options.feedback()));
            forget(slot);
            Long last = lastBase.get(slot);
            if (last != null && (baseVersion < last || baseVersion > last + (long) options.efMaxJump() * stride)) {
                log.accept(ef.reset("base jumped from v" + last + " to v" + baseVersion
                        + (slot == 0 && stride == 1 ? "" : " for fragment " + slot)));
            } else if (ef.steps() > 0 && !delta.infos().equals(layouts.get(slot))) {
                log.accept(ef.reset("the update's tensors changed"));
            }
            if (ef.variant() == ErrorFeedback.Variant.EF21) {
                named = "ef21";
                guard = ef.stateSha256();
                Arena arena = Arena.ofShared();
                TensorMap copy = new TensorMap();
                delta.asMap().forEach((n, t) -> copy.put(n, t.copy(arena)));
                updates.put(slot, arena);
                updateCopies.put(slot, copy);
                ErrorFeedback.Pending p = ef.prepare(copy);
                unacked.put(slot, p);
                bytes = p.bytes();
            } else {
                named = "ef";
                bytes = ef.encode(delta);
            }
            lastBase.put(slot, baseVersion);
            layouts.put(slot, delta.infos());
        } else {
            bytes = options.codec().encode(delta);
        }
        write(file, bytes);
        return new Encoded(options.codec().spec(), file, named, guard);
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        Path part = file.resolveSibling(file.getFileName() + ".part");
        Files.write(part, bytes);
        Files.move(part, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The coordinator acknowledged the update of {@code slot}: EF21's h takes its message in. */
    public void acked(int slot) {
        ErrorFeedback.Pending p = unacked.remove(slot);
        if (p != null) {
            p.commit();
        }
        forget(slot);
    }

    /**
     * EF21: the coordinator refused the update of {@code slot} because it holds another estimate ({@code why}):
     * h is reset to 0 (one log line) and the same update coded again from it into {@code file}. Null when there
     * is nothing to code again (no EF21 update of that slot is waiting).
     */
    public Encoded estimateRefused(int slot, Path file, String why) throws IOException {
        ErrorFeedback ef = feedback.get(slot);
        TensorMap update = updateCopies.get(slot);
        if (ef == null || update == null || ef.variant() != ErrorFeedback.Variant.EF21) {
            return null;
        }
        ErrorFeedback.Pending old = unacked.remove(slot);
        if (old != null) {
            old.drop();
        }
        log.accept(ef.reset("the coordinator holds another estimate: " + why) + "; sending the same update from h = 0");
        ErrorFeedback.Pending p = ef.prepare(update);
        unacked.put(slot, p);
        write(file, p.bytes());
        return new Encoded(options.codec().spec(), file, "ef21", new byte[0]);
    }

    /** Drops a slot's unacknowledged EF21 message and its update. */
    private void forget(int slot) {
        ErrorFeedback.Pending p = unacked.remove(slot);
        if (p != null) {
            p.drop();
        }
        updateCopies.remove(slot);
        Arena a = updates.remove(slot);
        if (a != null) {
            a.close();
        }
    }

    /** The coordinator refused the update of {@code slot} outright: its residual is reset (one log line). */
    public void refused(int slot, String why) {
        forget(slot);
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
        for (Integer slot : List.copyOf(updates.keySet())) {
            forget(slot);
        }
        feedback.values().forEach(ErrorFeedback::close);
        feedback.clear();
    }
}
