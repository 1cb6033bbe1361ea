package dev.tributary.sim;

import dev.tributary.codec.Codec;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.codec.Ef21Receiver;
import dev.tributary.codec.ErrorFeedback;
import dev.tributary.codec.VersionDelta;
import dev.tributary.store.SafetensorsBytes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The wire of a simulation: each client's push codec with its own error-feedback state, the coordinator's
 * decoding of what arrives, and what pulls cost.
 *
 * <p>Pushes: a client's delta is encoded by the codec (through the client's {@link ErrorFeedback} when
 * configured), the bytes are counted as sent, and the coordinator side decodes them with limits from the
 * delta's layout; for EF21 it adds the message to its copy of the client's estimate
 * ({@link Ef21Receiver}) and takes the estimate as the update. What comes out goes to the validator and
 * the strategy as a safetensors image, exactly as a plain push would. Under DiLoCo each fragment has its
 * own state (its tensors are a layout of their own).
 *
 * <p>Resets: a client's state is dropped (both sides, every fragment) when its base jumps, that is when
 * the update it last coded did not become part of the model: it was lost (the client went offline with
 * it in flight) or the coordinator refused it. The residual then stands for a message the model never
 * got, and EF21's estimate for one the coordinator never applied. Pulling a newer version is not a jump:
 * what compression held back from the client's earlier updates is still missing from the model whatever
 * was published in between, so the residual carries over.
 *
 * <p>Pulls: a full pull costs the model's safetensors image; with delta pulls, a client that holds a
 * version pays the size of {@link VersionDelta#encode} from it to the version it pulls (lossless, so the
 * model it trains from is the same), computed once per pair of versions. With a pull codec every pull
 * costs the model's message in that codec (delta pulls then do not apply, as on the wire), and clients
 * train from the decoded model ({@link #model}), coded and decoded once per version.
 *
 * <p>Used from the simulation's event thread only.
 */
final class ClientCodecs implements AutoCloseable {
    /** A push as it went over the wire and as the coordinator decoded it. */
    record Coded(long wireBytes, MemorySegment image) {}

    private final CodecSettings settings;
    private final Codec codec;
    private final long modelBytes;
    private final List<Map<List<String>, ErrorFeedback>> feedback = new ArrayList<>();
    private final List<Map<List<String>, Ef21Receiver>> receivers = new ArrayList<>();
    private final TensorMap[] held;
    private final long[] heldVersion;
    private final Map<List<Long>, Long> deltaSizes = new HashMap<>();
    private final long fixedWireSize;
    private final Codec pullCodec;
    private long codedVersion = -1;
    private TensorMap codedModel;
    private long codedBytes;
    private long fullBytesDown;
    private long resets;
    private final List<SimReport.Traffic> traffic = new ArrayList<>();

    ClientCodecs(CodecSettings settings, int clients, TensorMap model) {
        this.settings = settings;
        this.codec = settings.coded() ? Codec.parse(settings.codec()) : null;
        this.pullCodec = settings.pullCodec() == null ? null : Codec.parse(settings.pullCodec());
        this.modelBytes = SafetensorsBytes.encodedSize(model, Map.of());
        for (int c = 0; c < clients; c++) {
            feedback.add(new LinkedHashMap<>());
            receivers.add(new LinkedHashMap<>());
        }
        held = new TensorMap[clients];
        heldVersion = new long[clients];
        fixedWireSize = codec == null ? modelBytes : wireSizeIfFixed(model);
    }

    /** The size every full-model push has, or -1 when it depends on the values (lossless codecs and stages). */
    private long wireSizeIfFixed(TensorMap model) {
        if (!codec.hasFixedSize()) {
            return -1;
        }
        try (Arena a = Arena.ofConfined()) {
            TensorMap zeros = new TensorMap();
            for (TensorInfo i : model.infos()) {
                zeros.put(i.name(), Tensor.allocate(dev.tributary.tensor.DType.F32, i.shape(), a));
            }
            return codec.encode(zeros).length;
        }
    }

    CodecSettings settings() {
        return settings;
    }

    /** Bytes on the wire of a push of the whole model's layout, or -1 when only encoding tells. */
    long fixedWireSize() {
        return fixedWireSize;
    }

    /** Client {@code c} pushes {@code delta}: what goes over the wire, and the image the coordinator validates. */
    Coded push(int c, TensorMap delta) {
        if (codec == null) {
            MemorySegment image = SafetensorsBytes.encode(delta, Map.of(), Arena.ofAuto());
            return new Coded(image.byteSize(), image);
        }
        List<String> key = delta.names();
        byte[] wire = settings.feedback() == null ? codec.encode(delta)
                : feedback.get(c).computeIfAbsent(key, k -> ErrorFeedback.of(codec, settings.feedback())).encode(delta);
        List<TensorInfo> layout = delta.infos();
        try (Arena step = Arena.ofConfined()) {
            TensorMap decoded;
            try {
                decoded = codec.decode(MemorySegment.ofArray(wire), layout, DecodeLimits.forLayout(layout), step);
            } catch (CodecException e) {
                throw new IllegalStateException(codec.spec() + " did not decode its own message: " + e.getMessage(), e);
            }
            if (settings.feedback() == ErrorFeedback.Variant.EF21) {
                decoded = receivers.get(c).computeIfAbsent(key, k -> new Ef21Receiver()).accept(decoded);
            }
            MemorySegment image = SafetensorsBytes.encode(decoded, Map.of(), Arena.ofAuto());
            return new Coded(wire.length, image);
        }
    }

    /** The residual (EF) or estimate (EF21) norm of client {@code c}'s state for the tensors {@code names}; 0 when none. */
    double stateNorm(int c, List<String> names) {
        ErrorFeedback ef = feedback.get(c).get(names);
        return ef == null ? 0 : ef.stateNorm();
    }

    /** Updates coded through client {@code c}'s state for {@code names} since it was created or reset. */
    long steps(int c, List<String> names) {
        ErrorFeedback ef = feedback.get(c).get(names);
        return ef == null ? 0 : ef.steps();
    }

    /** Client {@code c}'s base jumped (its last coded update was lost or refused): drops its state on both sides. */
    void baseJumped(int c, String why) {
        Map<List<String>, ErrorFeedback> f = feedback.get(c);
        if (!f.isEmpty()) {
            for (ErrorFeedback ef : f.values()) {
                ef.reset("client " + c + ": " + why);
                ef.close();
            }
            f.clear();
            resets++;
        }
        receivers.get(c).values().forEach(Ef21Receiver::close);
        receivers.get(c).clear();
    }

    /** Client {@code c} pulls {@code model}, version {@code version}: the bytes that pull costs. */
    long pull(int c, long version, TensorMap model) {
        fullBytesDown += modelBytes;
        if (pullCodec != null) {
            code(version, model);
            return codedBytes;
        }
        long bytes = modelBytes;
        if (settings.deltaPulls() && held[c] != null) {
            TensorMap base = held[c];
            List<Long> pair = List.of(heldVersion[c], version);
            Long size = deltaSizes.get(pair);
            if (size == null) {
                size = (long) VersionDelta.encode(model, base).length;
                if (deltaSizes.size() >= 4096) {
                    deltaSizes.clear();
                }
                deltaSizes.put(pair, size);
            }
            bytes = size;
        }
        if (settings.deltaPulls()) {
            held[c] = model;
            heldVersion[c] = version;
        }
        return bytes;
    }

    /** True when clients pull the model coded by a lossy codec (they then never pull fragments, as the real worker). */
    boolean lossyPulls() {
        return pullCodec != null;
    }

    /** The model a client trains from after pulling {@code version}: {@code model}, or its decoding by the pull codec. */
    TensorMap model(long version, TensorMap model) {
        if (pullCodec == null) {
            return model;
        }
        code(version, model);
        return codedModel;
    }

    private void code(long version, TensorMap model) {
        if (codedVersion == version && codedModel != null) {
            return;
        }
        byte[] bytes = pullCodec.encode(model);
        try {
            // Automatic memory: clients still training hold the decoded model after the next version replaces it.
            codedModel = pullCodec.decode(MemorySegment.ofArray(bytes), model.infos(), DecodeLimits.forLayout(model.infos()),
                    Arena.ofAuto());
        } catch (CodecException e) {
            throw new IllegalStateException("the model coded by " + pullCodec.spec() + " does not decode: " + e.getMessage(), e);
        }
        codedBytes = bytes.length;
        codedVersion = version;
    }

    /**
     * Client {@code c} pulls only a fragment of {@code model} (version {@code version}), the only values
     * that changed since the version it holds: {@code fragmentBytes}, its safetensors image. The client then
     * holds {@code model} whole.
     */
    long pullFragment(int c, long version, TensorMap model, long fragmentBytes) {
        fullBytesDown += fragmentBytes;
        if (settings.deltaPulls()) {
            held[c] = model;
            heldVersion[c] = version;
        }
        return fragmentBytes;
    }

    /** Notes the bytes on the wire so far, at an evaluation. */
    void sample(double virtualSeconds, long bytesUp, long bytesDown) {
        if (codec != null || settings.deltaPulls() || pullCodec != null) {
            traffic.add(new SimReport.Traffic(virtualSeconds, bytesUp, bytesDown));
        }
    }

    /**
     * The report's compression section; null when nothing is compressed.
     *
     * @param decodedBytesUp the decoded images of the pushes that arrived (as bytesUp counts them)
     */
    SimReport.Compression summary(long bytesUp, long decodedBytesUp, long bytesDown) {
        if (codec == null && !settings.deltaPulls() && pullCodec == null) {
            return null;
        }
        return new SimReport.Compression(settings.codec(),
                settings.feedback() == null ? "none" : settings.feedback().name().toLowerCase(java.util.Locale.ROOT),
                pullCodec != null ? pullCodec.spec() : settings.deltaPulls() ? "delta" : "full", decodedBytesUp, ratio(decodedBytesUp, bytesUp), fullBytesDown,
                ratio(fullBytesDown, bytesDown), resets, traffic);
    }

    private static double ratio(long a, long b) {
        return b == 0 ? 0 : (double) a / b;
    }

    @Override
    public void close() {
        for (int c = 0; c < feedback.size(); c++) {
            feedback.get(c).values().forEach(ErrorFeedback::close);
            receivers.get(c).values().forEach(Ef21Receiver::close);
        }
    }
}
