package dev.tributary.codec;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Error feedback on the sending side of a lossy codec C, so that what the compression drops is sent
 * later instead of lost:
 * <ul>
 *   <li>{@link Variant#EF} (Seide et al. 2014): keep a residual e (initially 0); for each update g send
 *       C(e + g), then e ← e + g − C(e + g). The sum of the decoded messages stays within |e| of the sum
 *       of the updates, however many steps are taken.
 *   <li>{@link Variant#EF21} (Richtárik et al. 2021): keep an estimate h (initially 0); send C(g − h),
 *       then h ← h + C(g − h). The message is the change of the estimate, not the update: the receiver
 *       must add it to its own copy of h (see {@link Ef21Receiver}) and apply h, and both sides must
 *       reset at the same time.
 * </ul>
 * The state persists across {@link #encode} calls and belongs to one layout (adopted on the first call).
 * When the worker's base jumps (a fresh pull replaced its model), the residual refers to a model that
 * is gone: call {@link #reset} and log the line it returns. Call order: encode*, reset, encode*, …,
 * close. Instances are thread-safe; the state's off-heap memory is freed by {@link #close}.
 */
public final class ErrorFeedback implements AutoCloseable {
    /** Which error-feedback rule to apply. */
    public enum Variant { EF, EF21 }

    private final Codec codec;
    private final Variant variant;
    private Arena arena;
    /** The residual e (EF) or the estimate h (EF21); null before the first update and after a reset. */
    private TensorMap state;
    private List<TensorInfo> layout;
    private long steps;
    /** Changes at every commit and reset, so that a message prepared before either commits nothing. */
    private long generation;
    private boolean closed;

    private ErrorFeedback(Codec codec, Variant variant) {
        this.codec = Objects.requireNonNull(codec, "codec");
        this.variant = Objects.requireNonNull(variant, "variant");
    }

    /** Error feedback of {@code variant} around {@code codec}. */
    public static ErrorFeedback of(Codec codec, Variant variant) {
        return new ErrorFeedback(codec, variant);
    }

    /** Plain EF around {@code codec}. */
    public static ErrorFeedback of(Codec codec) {
        return of(codec, Variant.EF);
    }

    public Codec codec() {
        return codec;
    }

    public Variant variant() {
        return variant;
    }

    /** Updates encoded since creation or the last reset. */
    public synchronized long steps() {
        return steps;
    }

    /**
     * Encodes {@code update} (f32, finite) with feedback and advances the state. Every call after the
     * first must have the first call's layout (names, shapes, order) until {@link #reset}.
     *
     * @return the message to send, decodable by {@link #codec()}
     * @throws IllegalArgumentException when the layout changed or an input is not f32 or not finite
     */
    public synchronized byte[] encode(TensorMap update) {
        Pending p = prepare(update);
        p.commit();
        return p.bytes();
    }

    /**
     * Encodes {@code update} like {@link #encode} but leaves the state as it is until {@link Pending#commit}:
     * for a sender that advances its state only once the receiver took the message in (EF21 over a network,
     * where a message the receiver never applied must not enter the sender's estimate either). A pending
     * message whose state was {@link #reset} in between commits nothing.
     */
    public synchronized Pending prepare(TensorMap update) {
        if (closed) {
            throw new IllegalStateException("error feedback is closed");
        }
        adopt(update);
        Arena next = Arena.ofShared();
        try (Arena step = Arena.ofConfined()) {
            // EF compresses e + g; EF21 compresses g - h.
            TensorMap input = new TensorMap();
            for (TensorInfo info : layout) {
                Tensor g = update.tensor(info.name());
                Tensor x = g.copy(step);
                Kernels.axpy(variant == Variant.EF ? 1f : -1f, state.tensor(info.name()).data(), x.data(), x.numel());
                input.put(info.name(), x);
            }
            byte[] bytes = codec.encode(input);
            TensorMap sent;
            try {
                sent = codec.decode(MemorySegment.ofArray(bytes), layout, DecodeLimits.forLayout(layout), step);
            } catch (CodecException e) {
                throw new IllegalStateException(codec.spec() + " did not decode its own message: " + e.getMessage(), e);
            }
            TensorMap after = new TensorMap();
            for (TensorInfo info : layout) {
                MemorySegment c = sent.tensor(info.name()).data();
                long n = info.numel();
                Tensor s;
                if (variant == Variant.EF) {
                    s = input.tensor(info.name()).copy(next);
                    Kernels.axpy(-1f, c, s.data(), n);
                } else {
                    s = state.tensor(info.name()).copy(next);
                    Kernels.axpy(1f, c, s.data(), n);
                }
                after.put(info.name(), s);
            }
            return new Pending(bytes, after, next, generation);
        } catch (RuntimeException | Error e) {
            next.close();
            throw e;
        }
    }

    /** A message {@link #prepare}d and the state it leads to, not yet taken in. */
    public final class Pending {
        private final byte[] bytes;
        private TensorMap after;
        private Arena arena;
        private final long generation;

        private Pending(byte[] bytes, TensorMap after, Arena arena, long generation) {
            this.bytes = bytes;
            this.after = after;
            this.arena = arena;
            this.generation = generation;
        }

        /** The message to send, decodable by {@link #codec()}. */
        public byte[] bytes() {
            return bytes;
        }

        /**
         * Takes the message into the state (once; later calls do nothing); true when it did, false when the
         * state was reset (or this was dropped) since it was prepared.
         */
        public boolean commit() {
            synchronized (ErrorFeedback.this) {
                boolean applies = arena != null && !closed && generation == ErrorFeedback.this.generation && state != null;
                if (applies) {
                    for (TensorInfo info : layout) {
                        MemorySegment.copy(after.tensor(info.name()).data(), 0, state.tensor(info.name()).data(), 0,
                                4 * info.numel());
                    }
                    steps++;
                    ErrorFeedback.this.generation++;
                }
                drop();
                return applies;
            }
        }

        /** Frees the pending state without taking the message in. */
        public void drop() {
            synchronized (ErrorFeedback.this) {
                if (arena != null) {
                    arena.close();
                    arena = null;
                    after = null;
                }
            }
        }
    }

    /**
     * SHA-256 of the state's f32 values (each tensor's, in layout order, little-endian); empty while the
     * state is 0 (before the first update and after a reset). For EF21 it names the estimate h that sender
     * and receiver must share ({@link Ef21Receiver#estimateSha256}).
     */
    public synchronized byte[] stateSha256() {
        return steps == 0 || state == null ? new byte[0] : Ef21Receiver.sha256(state);
    }

    private void adopt(TensorMap update) {
        if (layout == null) {
            List<TensorInfo> infos = update.infos();
            for (TensorInfo i : infos) {
                if (i.dtype() != DType.F32) {
                    throw new IllegalArgumentException("tensor " + i.name() + ": dtype " + i.dtype()
                            + ", error feedback takes F32 only");
                }
            }
            arena = Arena.ofShared();
            state = new TensorMap();
            for (TensorInfo i : infos) {
                state.put(i.name(), Tensor.allocate(DType.F32, i.shape(), arena));
            }
            layout = infos;
            return;
        }
        List<TensorInfo> now = update.infos();
        if (!now.equals(layout)) {
            throw new IllegalArgumentException("update layout differs from the residual's: " + difference(now)
                    + "; call reset first");
        }
    }

    private String difference(List<TensorInfo> now) {
        for (int i = 0; i < Math.min(now.size(), layout.size()); i++) {
            if (!now.get(i).equals(layout.get(i))) {
                TensorInfo a = now.get(i);
                TensorInfo b = layout.get(i);
                return "tensor #" + i + " is " + a.name() + " " + a.dtype() + " " + Shapes.toString(a.shape())
                        + ", was " + b.name() + " " + b.dtype() + " " + Shapes.toString(b.shape());
            }
        }
        return now.size() + " tensors, was " + layout.size();
    }

    /** L2 norm of the residual (EF) or of the estimate (EF21); 0 before the first update. */
    public synchronized double stateNorm() {
        if (state == null) {
            return 0;
        }
        double s = 0;
        for (Tensor t : state.asMap().values()) {
            double n = Kernels.l2Norm(t.data(), t.numel());
            s += n * n;
        }
        return Math.sqrt(s);
    }

    /**
     * Drops the state (and the layout), e.g. because the worker's base jumped; returns one line saying so,
     * for the worker to log: {@code error feedback EF around int4:group=64 reset (base jumped from v3 to
     * v9): dropped a residual of L2 norm 0.0123 over 5 tensors after 12 steps}.
     */
    public synchronized String reset(String reason) {
        String what = variant == Variant.EF ? "residual" : "estimate";
        String line = String.format(Locale.ROOT, "error feedback %s around %s reset (%s): dropped %s of L2 norm %.4g over %d tensors after %d steps",
                variant, codec.spec(), reason, "a " + what, stateNorm(), layout == null ? 0 : layout.size(), steps);
        release();
        steps = 0;
        generation++;
        return line.replace('\n', ' ');
    }

    private void release() {
        if (arena != null) {
            arena.close();
        }
        arena = null;
        state = null;
        layout = null;
    }

    @Override
    public synchronized void close() {
        release();
        closed = true;
    }
}
