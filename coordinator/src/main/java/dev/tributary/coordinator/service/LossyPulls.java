package dev.tributary.coordinator.service;

import dev.tributary.codec.Codec;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.coordinator.WireSettings;
import dev.tributary.coordinator.validation.Refusal;
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
 * {@link #MAX_CODECS} a version, dropped at each publish), and the decoded digest of every coding made
 * (the last {@link #MAX_DIGESTS}), so that a push naming the lossy pull it was trained from
 * ({@code UpdateHeader.base_codec}, {@code base_decoded_sha256}) is checked against it; a coding no longer
 * remembered (after a restart) is made again from the base version when the coordinator still holds it.
 * Owned by the sequencer thread; the codings are computed on {@code background}.
 */
final class LossyPulls {
    /** Codings of one version kept at most: a pull naming yet another codec gets the f32 model. */
    static final int MAX_CODECS = 4;
    /** Longest pull codec spec looked at (a canonical spec fits in 255 bytes). */
    static final int MAX_SPEC_CHARS = 255;
    /** Decoded digests of (version, codec) codings remembered, most recent kept. */
    static final int MAX_DIGESTS = 4096;

    private final WireSettings wire;
    private final Executor background;
    private final Map<String, CompletableFuture<ModelSender.Coded>> coded = new HashMap<>();
    /** "version/spec" → SHA-256 of the decoded image; written by the background thread as codings complete. */
    private final Map<String, byte[]> digests = java.util.Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, byte[]> eldest) {
            return size() > MAX_DIGESTS;
        }
    });

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
     * codec {@code spec} names; null when the pull is to be answered as a plain one (no codec, one not
     * accepted, too many codecs this version). The future completes with null when the model does not
     * code (not f32).
     */
    CompletableFuture<ModelSender.Coded> answer(String spec, long v, TensorMap model, CompletableFuture<Void> durable) {
        Codec codec = codec(spec);
        if (codec == null || (!coded.containsKey(codec.spec()) && coded.size() >= MAX_CODECS)) {
            return null;
        }
        return coded.computeIfAbsent(codec.spec(), s -> durable.thenApplyAsync(x -> code(codec, v, model), background));
    }

    /**
     * Checks that a push's base is the lossy pull of version {@code v} by codec {@code spec} whose decoded
     * image has SHA-256 {@code sha256}: against the digest remembered, else against a coding of {@code model}
     * (the coordinator's version {@code v}, null when it no longer holds it) made now. Completes normally when
     * it is, exceptionally with a {@link Refusal} ({@code lossy_base}) naming why not.
     */
    CompletableFuture<Void> verify(long v, String spec, byte[] sha256, TensorMap model) {
        Codec codec = codec(spec);
        if (codec == null) {
            return CompletableFuture.failedFuture(Refusal.precondition("lossy_base", "base_codec " + abbreviate(spec)
                    + ": not a codec this coordinator answers pulls with; pull the whole model"));
        }
        byte[] known = digests.get(key(v, codec.spec()));
        CompletableFuture<byte[]> digest;
        if (known != null) {
            digest = CompletableFuture.completedFuture(known);
        } else if (model == null) {
            return CompletableFuture.failedFuture(Refusal.precondition("lossy_base", "base v" + v + " coded by " + codec.spec()
                    + ": this coordinator no longer holds that version to check the pull against; pull the whole model"));
        } else {
            digest = CompletableFuture.supplyAsync(() -> {
                ModelSender.Coded c = code(codec, v, model);
                return c == null ? new byte[0] : c.decodedSha256();
            }, background);
        }
        return digest.thenAccept(d -> {
            if (!java.util.Arrays.equals(d, sha256)) {
                throw Refusal.precondition("lossy_base", "base v" + v + " coded by " + codec.spec() + " decodes to SHA-256 "
                        + java.util.HexFormat.of().formatHex(d) + ", not base_decoded_sha256 "
                        + java.util.HexFormat.of().formatHex(sha256) + "; pull the whole model");
            }
        });
    }

    private static String key(long v, String spec) {
        return v + "/" + spec;
    }

    private static String abbreviate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "…";
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
    private ModelSender.Coded code(Codec codec, long v, TensorMap model) {
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
            digests.put(key(v, codec.spec()), image.sha256());
            return new ModelSender.Coded(codec.spec(), ModelImage.of(v, MemorySegment.ofArray(bytes)), image.sha256(), image.size());
        } catch (CodecException e) {
            throw new IllegalStateException("a model coded by " + codec.spec() + " does not decode: " + e.getMessage(), e);
        }
    }
}
