package dev.tributary.coordinator.service;

import dev.tributary.codec.Codec;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.coordinator.WireSettings;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns a coded push into the safetensors delta image the rest of the push path (validation, the strategy,
 * the update log) takes, so that replay never needs a codec. The message's header is checked against the
 * model's layout (or, for Streaming DiLoCo, a fragment's) and the limits before anything is allocated; only
 * then does one receive buffer, from the same budget as the received bytes, take the decoded image, and the
 * codec writes the values straight into it. A refusal is one line, counted under {@code codec_<reason>}
 * (malformed, corrupt, unsupported, too_large, layout).
 */
final class PushDecoder {
    private final WireSettings wire;
    /** Candidate layouts, the whole model first; fragments after it when deltas may be partial. */
    private final List<Layout> layouts;
    private final ReceiveBuffers buffers;
    private final long maxEncodedBytes;
    private final Map<String, Codec> parsed = new HashMap<>();

    /** A layout a message may have, with its safetensors header and its decode limits. */
    private record Layout(List<TensorInfo> infos, byte[] header, long dataBytes, DecodeLimits limits) {
        long imageBytes() {
            return header.length + dataBytes;
        }
    }

    /**
     * A decoded push: its image in a receive buffer that the caller now owns; {@code layout}: 0 for the whole
     * model, 1 + f for fragment f.
     */
    record Decoded(ReceiveBuffers.Buffer buffer, MemorySegment image, long decodedBytes, int layout) {}

    /** The tensors of a decoded image (views of it): the layout's, by construction. */
    static TensorMap tensors(MemorySegment image) {
        return dev.tributary.store.ModelImage.tensors(image, "delta");
    }

    /**
     * @param model           the model's tensors, in order
     * @param fragments       the layout of each fragment a partial delta may hold (empty for whole deltas)
     * @param maxEncodedBytes the largest message accepted (the push size limit)
     */
    PushDecoder(List<TensorInfo> model, List<List<TensorInfo>> fragments, WireSettings wire, ReceiveBuffers buffers,
            long maxEncodedBytes) {
        this.wire = wire;
        this.buffers = buffers;
        this.maxEncodedBytes = maxEncodedBytes;
        List<Layout> all = new ArrayList<>();
        // Every candidate takes as many tensors as the largest, so that a message of another candidate's
        // count is a layout misfit (try the next), not a size refusal.
        int maxTensors = model.size();
        for (List<TensorInfo> f : fragments) {
            maxTensors = Math.max(maxTensors, f.size());
        }
        all.add(layout(model, maxTensors));
        if (fragments.size() > 1) {
            for (List<TensorInfo> f : fragments) {
                all.add(layout(f, maxTensors));
            }
        }
        this.layouts = List.copyOf(all);
    }

    private Layout layout(List<TensorInfo> infos, int maxTensors) {
        List<TensorInfo> f32 = infos.stream().map(t -> new TensorInfo(t.name(), DType.F32, t.shape())).toList();
        byte[] header = Safetensors.header(f32, Map.of());
        long data = 0;
        for (TensorInfo t : f32) {
            data = Math.addExact(data, t.byteSize());
        }
        // Decoded data can never exceed the receive budget; an encoded message never exceeds the push limit.
        DecodeLimits limits = DecodeLimits.forLayout(f32).withMaxTensors(Math.max(1, maxTensors)).withMaxEncodedBytes(maxEncodedBytes)
                .withMaxDecodedBytes(Math.min(data, buffers.budget()));
        return new Layout(f32, header, data, limits);
    }

    /**
     * The codec an update header names, or null for a safetensors delta.
     *
     * @throws Refusal INVALID_ARGUMENT "codec" for a codec that does not parse or is not accepted here
     */
    Codec codecOf(String name) {
        if (name.isEmpty() || name.equals(UpdateValidator.SAFETENSORS)) {
            return null;
        }
        synchronized (parsed) {
            Codec c = parsed.get(name);
            if (c != null) {
                return c;
            }
        }
        Codec c;
        try {
            c = Codec.parse(name);
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("codec", e.getMessage() + "; or safetensors");
        }
        if (!wire.accepts(c)) {
            throw Refusal.invalid("codec", "codec " + c.spec() + " is not accepted here (codecs: "
                    + String.join(", ", new java.util.TreeSet<>(wire.codecs())) + ", safetensors)");
        }
        synchronized (parsed) {
            if (parsed.size() < 256) {
                parsed.put(name, c);
            }
        }
        return c;
    }

    /** The metric label of a codec: its families, e.g. {@code topk+int8}; bounded, unlike full specs. */
    static String family(Codec c) {
        if (c == null) {
            return UpdateValidator.SAFETENSORS;
        }
        StringBuilder b = new StringBuilder();
        for (String part : c.spec().split("\\+")) {
            int colon = part.indexOf(':');
            b.append(b.isEmpty() ? "" : "+").append(colon < 0 ? part : part.substring(0, colon));
        }
        return b.toString();
    }

    /**
     * Decodes {@code message} into a fresh receive buffer holding a safetensors image of the delta.
     *
     * @throws Refusal INVALID_ARGUMENT {@code codec_<reason>} for bytes that are not a message of this codec
     *                 for the model's (or a fragment's) exact names and shapes within the limits, or
     *                 UNAVAILABLE "busy" when the budget has no room for the decoded image
     */
    Decoded decode(Codec codec, MemorySegment message, String token, String worker) {
        CodecException last = null;
        for (int index = 0; index < layouts.size(); index++) {
            Layout l = layouts.get(index);
            ImageArena arena = new ImageArena(l, token, worker);
            try {
                codec.decode(message, l.infos(), l.limits(), arena);
                if (arena.buffer == null) {
                    // Every tensor empty: nothing was allocated, the image is the header alone.
                    arena.open();
                }
                return new Decoded(arena.buffer, arena.image, l.dataBytes(), index);
            } catch (CodecException e) {
                arena.release();
                if (e.reason() != CodecException.Reason.LAYOUT || arena.opened) {
                    throw refusal(codec, e);
                }
                last = last == null ? e : last;
            } catch (RuntimeException | Error e) {
                arena.release();
                throw e;
            }
        }
        throw refusal(codec, last);
    }

    private static Refusal refusal(Codec codec, CodecException e) {
        return Refusal.invalid("codec_" + e.reason().code(), codec.spec() + " delta refused: " + e.getMessage());
    }

    /**
     * The arena the codec allocates its output tensors from: the first allocation opens one receive buffer
     * for the whole image (the header written first), each allocation the next tensor's slice of its data,
     * in the layout's order, which is the codec's order. Freeing is the buffer's business, not the arena's.
     */
    private final class ImageArena implements Arena {
        private final Layout layout;
        private final String token;
        private final String worker;
        private ReceiveBuffers.Buffer buffer;
        private MemorySegment image;
        private long next;
        private boolean opened;

        ImageArena(Layout layout, String token, String worker) {
            this.layout = layout;
            this.token = token;
            this.worker = worker;
        }

        void open() {
            opened = true;
            ReceiveBuffers.Buffer b = buffers.open(token, worker, Math.max(1, layout.imageBytes()));
            // The received message already counts against the stream's shares; its decoded image only against the budget.
            b.handOver();
            MemorySegment m = b.reserve(Math.max(1, layout.imageBytes()));
            buffer = b;
            image = m.asSlice(0, layout.imageBytes());
            MemorySegment.copy(layout.header(), 0, image, ValueLayout.JAVA_BYTE, 0, layout.header().length);
            next = layout.header().length;
        }

        void release() {
            if (buffer != null) {
                buffer.release();
                buffer = null;
            }
        }

        @Override
        public MemorySegment allocate(long byteSize, long byteAlignment) {
            if (buffer == null) {
                open();
            }
            if (byteSize < 0 || next + byteSize > image.byteSize()) {
                throw new IllegalStateException("decoder asked for " + byteSize + " bytes at " + next + " of an image of "
                        + image.byteSize());
            }
            MemorySegment s = image.asSlice(next, byteSize);
            next += byteSize;
            return s;
        }

        @Override
        public MemorySegment.Scope scope() {
            return Arena.global().scope();
        }

        @Override
        public void close() {
            throw new UnsupportedOperationException("the image's buffer is released by its owner");
        }
    }
}
