package dev.tributary.coordinator.service;

import dev.tributary.codec.Codec;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.coordinator.WireSettings;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Pulls answered with the current version coded by a lossy codec the worker names: which codecs may
 * answer (those the wire settings accept, never top-k), one coding per version and codec (at most
 * {@link #MAX_CODECS} a version, dropped at each publish), and which version each worker last took
 * this way, so that an update based on it is known to come from a lossy base. Owned by the sequencer
 * thread; the codings are computed on {@code background}.
 */
final class LossyPulls {
    /** Codings of one version kept at most: a pull naming yet another codec gets the f32 model. */
    static final int MAX_CODECS = 4;
    /** Longest pull codec spec looked at (a canonical spec fits in 255 bytes). */
    static final int MAX_SPEC_CHARS = 255;
    /** Workers whose last lossy pull is remembered, most recent kept. */
    static final int MAX_WORKERS = 100_000;
    static final int MAX_WORKER_ID_CHARS = 128;

    private final WireSettings wire;
    private final Executor background;
    private final Map<String, CompletableFuture<ModelSender.Coded>> coded = new HashMap<>();
    private final Map<String, Long> bases = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
            return size() > MAX_WORKERS;
        }
    };

    LossyPulls(WireSettings wire, Executor background) {
        this.wire = wire;
        this.background = background;
    }

    /** A new version is current: the codings of the last one go. */
    void published() {
        coded.clear();
    }

    /**
     * The coding of {@code model} (version {@code v}, visible once {@code durable} completes) by the
     * codec {@code spec} names, noting {@code workerId} as holding it; null when the pull is to be
     * answered as a plain one (no codec, one not accepted, too many codecs this version). The future
     * completes with null when the model does not code (not f32).
     */
    CompletableFuture<ModelSender.Coded> answer(String workerId, String spec, long v, TensorMap model,
            CompletableFuture<Void> durable) {
        Codec codec = codec(spec);
        if (codec == null || (!coded.containsKey(codec.spec()) && coded.size() >= MAX_CODECS)) {
            return null;
        }
        if (!workerId.isEmpty() && workerId.length() <= MAX_WORKER_ID_CHARS) {
            bases.put(workerId, v);
        }
        return coded.computeIfAbsent(codec.spec(), s -> durable.thenApplyAsync(x -> code(codec, v, model), background));
    }

    /** True when {@code workerId} last took version {@code base} as a lossy pull. */
    boolean lossyBase(String workerId, long base) {
        Long v = bases.get(workerId);
        return v != null && v == base;
    }

    private Codec codec(String spec) {
        if (spec == null || spec.isEmpty() || spec.length() > MAX_SPEC_CHARS) {
            return null;
        }
        Codec c;
        try {
            c = Codec.parse(spec);
        } catch (IllegalArgumentException e) {
            return null;
        }
        return wire.accepts(c) && !c.spec().startsWith("topk") ? c : null;
    }

    /** {@code model} coded by {@code codec}, with its decoded image's digest; null if it does not code. */
    private static ModelSender.Coded code(Codec codec, long v, TensorMap model) {
        byte[] bytes;
        try {
            bytes = codec.encode(model);
        } catch (IllegalArgumentException e) {
            return null; // not f32: the f32 image goes instead
        }
        try (Arena arena = Arena.ofConfined()) {
            TensorMap decoded = codec.decode(MemorySegment.ofArray(bytes), model.infos(), DecodeLimits.forLayout(model.infos()),
                    arena);
            ModelImage image = ModelImage.of(v, decoded);
            return new ModelSender.Coded(codec.spec(), ModelImage.of(v, MemorySegment.ofArray(bytes)), image.sha256(), image.size());
        } catch (CodecException e) {
            throw new IllegalStateException("a model coded by " + codec.spec() + " does not decode: " + e.getMessage(), e);
        }
    }
}
