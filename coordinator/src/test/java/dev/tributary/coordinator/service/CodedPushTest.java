package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.protocol.PushAck;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Coded pushes through the real service: decoded into the model's layout, refused when hostile. */
class CodedPushTest {
    static final String TOKEN = "s3cret-token-for-tests";

    @TempDir
    Path state;

    final List<String> warnings = new ArrayList<>();
    Coordinator coordinator;
    InProcessCoordinator server;

    /** A model large enough that its image dwarfs a forged message: w [64, 48], b [48]. */
    static TensorMap model(long seed, float scale) {
        Random r = new Random(seed);
        return new TensorMap()
                .put("w", Tensor.ofFloats(new long[] {64, 48}, floats(r, 64 * 48, scale)))
                .put("b", Tensor.ofFloats(new long[] {48}, floats(r, 48, scale)));
    }

    static float[] floats(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * scale);
        }
        return v;
    }

    static CoordinatorConfig fedasync() {
        return CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 0.5, "max_staleness", 4,
                "alpha_scale", "none"));
    }

    TestClient start(CoordinatorConfig config) throws IOException {
        server = InProcessCoordinator.start(state, model(1, 1f), config, List.of(TOKEN), warnings::add);
        coordinator = server.coordinator();
        return server.client(TOKEN);
    }

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    static PushAck pushCoded(TestClient c, String codec, byte[] message, long base) {
        return c.push(TestClient.header(UUID.randomUUID().toString(), base, message.length).setCodec(codec).build(),
                MemorySegment.ofArray(message), 1000, false);
    }

    @ParameterizedTest
    @ValueSource(strings = {"f16", "bf16", "int8:group=16", "int4:group=64", "fp8", "topk:fraction=0.05+int8",
            "topk:fraction=0.1", "lossless:level=3", "int4:group=64+lossless:level=3",
            "topk:fraction=0.05+int8:group=64+lossless:level=3"})
    void theModelAfterCodedPushesIsWhatTheStrategyMakesOfTheDecodedDeltas(String spec) throws Exception {
        TestClient c = start(fedasync());
        Codec codec = Codec.parse(spec);
        Strategy expected = Strategies.create("fedasync", fedasync().strategyConfig(), model(1, 1f));
        long wire = 0;
        for (int i = 0; i < 3; i++) {
            byte[] message = codec.encode(model(10 + i, 0.01f));
            wire += message.length;
            PushAck ack = pushCoded(c, spec, message, i);
            assertEquals(i + 1, ack.getVersion());
            TensorMap decoded = codec.decode(message, model(1, 1f).infos(), DecodeLimits.forLayout(model(1, 1f).infos()));
            expected.onUpdate(new Update(UUID.randomUUID().toString(), i, 10, 1, decoded, Map.of()));
        }
        TensorMap pulled = c.pull(-1).tensors();
        for (String n : List.of("w", "b")) {
            assertArrayEquals(expected.model().tensor(n).toFloatArray(), pulled.tensor(n).toFloatArray(), spec + " " + n);
        }
        String family = PushDecoder.family(codec);
        assertEquals(wire, coordinator.metrics().wireBytes(family), 0.0);
        long image = ModelImage.of(0, model(1, 1f)).size();
        assertEquals(3.0 * image, coordinator.metrics().decodedBytes(family), 0.0);
        assertTrue(coordinator.metrics().scrape().contains("tributary_update_wire_bytes_total{codec=\"" + family + "\"}"),
                coordinator.metrics().scrape());
        assertTrue(coordinator.metrics().scrape().contains("tributary_update_decoded_bytes_total{codec=\"" + family + "\"}"));
    }

    /** Refuses {@code message} under {@code codec} with {@code code} and {@code reason}; the model is untouched. */
    void refused(TestClient c, String codec, byte[] message, Status.Code code, String reason) {
        long before = coordinator.metrics().refusedCount(reason);
        long version = coordinator.version();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> pushCoded(c, codec, message, 0));
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().lines().count() == 1, e.getStatus().getDescription());
        assertEquals(before + 1, coordinator.metrics().refusedCount(reason), reason + ": " + e.getStatus());
        assertEquals(version, coordinator.version());
        // The forged message's bytes may sit in the pool; a decoded image (a whole model) was never allocated.
        assertTrue(coordinator.memoryCommitted() < ModelImage.of(0, model(1, 1f)).size(),
                "committed " + coordinator.memoryCommitted());
    }

    @Test
    void hostileCodedPushesAreRefusedWithTheirReasonBeforeAnythingLargeIsAllocated() throws Exception {
        TestClient c = start(fedasync());
        Codec int8 = Codec.parse("int8:group=64");
        TensorMap small = new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4))
                .put("b", Tensor.ofFloats(new long[] {1}, 1));
        byte[] tiny = int8.encode(small);

        // A decompression bomb: a tiny message declaring w of 2^40 × 2 values.
        byte[] bomb = withDims(tiny, "w", new long[] {1L << 40, 2});
        refused(c, int8.spec(), bomb, Status.Code.INVALID_ARGUMENT, "codec_layout");
        // Declared shapes that are the model's, payloads that are not there: the sizes do not add up.
        byte[] hollow = withDims(withDims(tiny, "w", new long[] {64, 48}), "b", new long[] {48});
        refused(c, int8.spec(), hollow, Status.Code.INVALID_ARGUMENT, "codec_malformed");
        // Wrong names, wrong shapes.
        byte[] names = int8.encode(new TensorMap().put("x", model(2, 1f).tensor("w")).put("b", model(2, 1f).tensor("b")));
        refused(c, int8.spec(), names, Status.Code.INVALID_ARGUMENT, "codec_layout");
        byte[] shapes = int8.encode(new TensorMap().put("w", Tensor.ofFloats(new long[] {48, 64}, new float[48 * 64]))
                .put("b", model(2, 1f).tensor("b")));
        refused(c, int8.spec(), shapes, Status.Code.INVALID_ARGUMENT, "codec_layout");
        // Truncated, flipped.
        byte[] good = int8.encode(model(3, 0.01f));
        refused(c, int8.spec(), java.util.Arrays.copyOf(good, good.length - 9), Status.Code.INVALID_ARGUMENT, "codec_corrupt");
        byte[] flipped = good.clone();
        flipped[flipped.length / 2] ^= 4;
        refused(c, int8.spec(), flipped, Status.Code.INVALID_ARGUMENT, "codec_corrupt");
        // The header names one codec, the bytes are another's.
        refused(c, int8.spec(), Codec.parse("int4:group=64").encode(model(3, 0.01f)), Status.Code.INVALID_ARGUMENT,
                "codec_unsupported");
        // A codec nobody knows, refused at the header.
        refused(c, "zip9:level=3", good, Status.Code.INVALID_ARGUMENT, "codec");
        assertTrue(warnings.isEmpty(), warnings.toString());
        // And an honest one still goes in.
        assertEquals(1, pushCoded(c, int8.spec(), good, 0).getVersion());
    }

    @Test
    void codecsTheCoordinatorDoesNotAcceptAreRefusedByName() throws Exception {
        TestClient c = start(fedasync().withWire(fedasync().wire().withCodecs(Set.of("int8"))));
        byte[] int4 = Codec.parse("int4:group=64").encode(model(3, 0.01f));
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> pushCoded(c, "int4:group=64", int4, 0));
        assertTrue(e.getStatus().getDescription().contains("int4:group=64 is not accepted here"), e.getStatus().toString());
        assertEquals(1, coordinator.metrics().refusedCount("codec"));
        assertEquals(1, pushCoded(c, "int8", Codec.parse("int8").encode(model(3, 0.01f)), 0).getVersion());
    }

    @Test
    void anAcknowledgedCodedUpdateReplaysIdenticallyFromTheLogWithoutTheCodec() throws Exception {
        TestClient c = start(fedasync());
        Codec int4 = Codec.parse("int4:group=32");
        for (int i = 0; i < 3; i++) {
            pushCoded(c, int4.spec(), int4.encode(model(40 + i, 0.02f)), i);
        }
        String sha = java.util.HexFormat.of().formatHex(c.pull(-1).header().getSha256().toByteArray());
        // As after kill -9: the running coordinator has not checkpointed, its state is read again as it is,
        // by a coordinator that accepts no codec at all: the log holds the decoded deltas.
        CoordinatorConfig none = fedasync().withWire(fedasync().wire().withCodecs(Set.of()));
        try (Assembly back = Assembly.open(state, model(1, 1f), none, new dev.tributary.coordinator.CoordinatorMetrics(),
                warnings::add)) {
            assertEquals(3, back.recoveredUpdates());
            assertEquals(3, back.version());
            assertEquals(sha, back.modelSha256());
        }
    }

    /** {@code message} with the dimensions of tensor {@code name} replaced (same rank) and its CRC32C fixed. */
    static byte[] withDims(byte[] message, String name, long[] dims) {
        byte[] out = message.clone();
        MemorySegment m = MemorySegment.ofArray(out);
        ValueLayout.OfLong u64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        ValueLayout.OfShort u16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        int at = 4 + 1;
        at += 1 + (out[at] & 0xFF);
        int count = m.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at);
        at += 4;
        for (int i = 0; i < count; i++) {
            int nameLength = m.get(u16, at) & 0xFFFF;
            String n = new String(out, at + 2, nameLength, java.nio.charset.StandardCharsets.UTF_8);
            at += 2 + nameLength;
            at += 1 + (out[at] & 0xFF);
            int rank = out[at] & 0xFF;
            at += 1;
            for (int d = 0; d < rank; d++) {
                if (n.equals(name)) {
                    m.set(u64, at, dims[d]);
                }
                at += 8;
            }
            at += 8;
        }
        CRC32C crc = new CRC32C();
        crc.update(out, 0, out.length - 4);
        m.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), out.length - 4, (int) crc.getValue());
        return out;
    }
}
