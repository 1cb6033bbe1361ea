package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.protocol.PullRequest;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pulls coded by a lossy codec the worker names, answered only when the coordinator accepts the codec. */
class LossyPullTest {
    static final String TOKEN = "s3cret-token-for-tests";

    @TempDir
    Path state;

    Coordinator coordinator;
    InProcessCoordinator server;

    TestClient start(Set<String> codecs) throws IOException {
        CoordinatorConfig config = CoordinatorConfig.defaults("fedasync")
                .withStrategyConfig(Map.of("alpha", 0.5, "max_staleness", 10, "alpha_scale", "none"));
        if (codecs != null) {
            config = config.withWire(config.wire().withCodecs(codecs));
        }
        server = InProcessCoordinator.start(state, PullDeltaTest.model(), config, List.of(TOKEN), m -> { });
        coordinator = server.coordinator();
        return server.client(TOKEN);
    }

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    static PullRequest lossy(String worker, long known, String codec) {
        return PullRequest.newBuilder().setWorkerId(worker).setKnownVersion(known).setPullCodec(codec).build();
    }

    /** Checks both digests of a coded answer and returns the decoded weights. */
    static TensorMap decodeVerified(TestClient.Pulled p) throws Exception {
        var h = p.header();
        assertEquals(h.getCodedBytes(), p.bytes().byteSize());
        assertArrayEquals(h.getCodedSha256().toByteArray(), ModelImage.sha256(p.bytes()), "SHA-256 of the coded bytes");
        Codec c = Codec.parse(h.getCodec());
        DecodeLimits limits = DecodeLimits.of(h.getDecodedBytes());
        TensorMap decoded = c.decode(p.bytes(), Codec.layoutOf(p.bytes(), limits), limits, Arena.ofAuto());
        ModelImage image = ModelImage.of(h.getVersion(), decoded);
        assertArrayEquals(h.getDecodedSha256().toByteArray(), image.sha256(), "SHA-256 of the decoded image");
        assertEquals(h.getDecodedBytes(), image.size());
        return decoded;
    }

    @Test
    void bf16AndInt8PullsAreCodedSmallerAndDecodeToWhatTheHeaderDescribes() throws Exception {
        TestClient c = start(null);
        TestClient.Pulled full = c.pull(-1);
        TensorMap exact = full.tensors();
        long fullBytes = full.header().getTotalBytes();
        long lossyBytes = 0;
        for (String spec : List.of("bf16", "int8")) {
            TestClient.Pulled p = c.pull(lossy("w", -1, spec));
            assertEquals(Codec.parse(spec).spec(), p.header().getCodec());
            assertFalse(p.header().getVersionDelta());
            assertEquals(0, p.header().getVersion());
            assertArrayEquals(full.header().getSha256().toByteArray(), p.header().getSha256().toByteArray(),
                    "sha256 still names the exact version");
            TensorMap d = decodeVerified(p);
            float[] x = exact.tensor("w").toFloatArray();
            float[] y = d.tensor("w").toFloatArray();
            double worst = 0;
            boolean differs = false;
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
                differs |= x[i] != y[i];
            }
            assertTrue(differs, spec + " is lossy");
            assertTrue(worst < (spec.equals("bf16") ? 0.02 : 0.05), spec + ": worst error " + worst);
            double ratio = (double) fullBytes / p.bytes().byteSize();
            assertTrue(ratio > (spec.equals("bf16") ? 1.9 : 3.5), spec + ": " + ratio + "x smaller");
            lossyBytes += p.bytes().byteSize();
        }
        assertEquals(2, coordinator.metrics().pulls("lossy"));
        assertEquals(lossyBytes, coordinator.metrics().pullBytes("lossy"), 0.0);
        assertEquals(1, coordinator.metrics().pulls("full"));
    }

    @Test
    void oneEncodingPerVersionAndCodecAndANewOneAfterAPublish() throws Exception {
        TestClient c = start(null);
        TestClient.Pulled a = c.pull(lossy("w", -1, "int8"));
        TestClient.Pulled b = c.pull(lossy("w2", -1, "int8:group=64"));
        assertArrayEquals(a.header().getCodedSha256().toByteArray(), b.header().getCodedSha256().toByteArray());
        assertTrue(c.pull(lossy("w", 0, "int8")).header().getUnchanged(), "the version held is current");
        c.push(PullDeltaTest.sparseDelta(1, 50), 0);
        TestClient.Pulled next = c.pull(lossy("w", 0, "int8"));
        assertEquals(1, next.header().getVersion());
        assertFalse(java.util.Arrays.equals(a.header().getCodedSha256().toByteArray(), next.header().getCodedSha256().toByteArray()));
        decodeVerified(next);
    }

    @Test
    void aCodecTheCoordinatorDoesNotAcceptGetsTheWholeF32Model() throws Exception {
        TestClient c = start(Set.of("int8"));
        for (String spec : List.of("bf16", "topk:fraction=0.5+int8", "int9", "x".repeat(10_000))) {
            TestClient.Pulled p = c.pull(lossy("w", -1, spec));
            assertEquals("", p.header().getCodec(), spec);
            assertEquals(p.header().getTotalBytes(), p.bytes().byteSize());
            assertArrayEquals(p.header().getSha256().toByteArray(), ModelImage.sha256(p.bytes()));
        }
        assertEquals("int8:group=64", c.pull(lossy("w", -1, "int8")).header().getCodec());
        assertEquals(4, coordinator.metrics().pulls("full"));
        assertEquals(1, coordinator.metrics().pulls("lossy"));
    }

    /** A lossy pull is never answered with a version delta, even when the worker would take one. */
    @Test
    void aLossyPullThatAcceptsDeltasGetsTheCodedModel() throws Exception {
        TestClient c = start(null);
        c.push(PullDeltaTest.sparseDelta(2, 5), 0);
        TestClient.Pulled p = c.pull(lossy("w", 0, "bf16").toBuilder().setAcceptVersionDelta(true).build());
        assertFalse(p.header().getVersionDelta());
        assertEquals("bf16", p.header().getCodec());
        decodeVerified(p);
    }

    /**
     * A worker trains from the decoded model and pushes trained − decoded: the coordinator adds that to
     * its exact model, so the pull's rounding does not enter the model, and counts the update as trained
     * from a lossy base (the push names the pull: its codec and decoded digest).
     */
    @Test
    void anUpdateTrainedFromALossyPullMovesTheExactModelByItsDelta() throws Exception {
        TestClient c = start(null);
        TensorMap exact = c.pull(-1).tensors();
        TestClient.Pulled p = c.pull(lossy("w", -1, "int8"));
        TensorMap base = decodeVerified(p);
        TensorMap delta = PullDeltaTest.sparseDelta(3, 40);
        float[] trained = base.tensor("w").toFloatArray();
        float[] step = delta.tensor("w").toFloatArray();
        for (int i = 0; i < trained.length; i++) {
            trained[i] += step[i];
        }
        float[] sent = trained.clone();
        float[] from = base.tensor("w").toFloatArray();
        for (int i = 0; i < sent.length; i++) {
            sent[i] -= from[i];
        }
        TensorMap pushed = new TensorMap().put("w", dev.tributary.tensor.Tensor.ofFloats(new long[] {PullDeltaTest.ROWS,
                PullDeltaTest.COLS}, sent)).put("b", delta.tensor("b"));
        MemorySegment img = dev.tributary.tensor.Safetensors.encode(pushed, Map.of(), Arena.ofAuto());
        c.push(Ef21PushTest.lossyHeader(p, img.byteSize()), img, 1000, false);
        assertEquals(1, coordinator.metrics().lossyBases());
        float[] after = c.pull(-1).tensors().tensor("w").toFloatArray();
        float[] before = exact.tensor("w").toFloatArray();
        for (int i = 0; i < after.length; i++) {
            // FedAsync, alpha 0.5: exact + 0.5 · delta, whatever the pull's rounding was.
            assertEquals(before[i] + 0.5f * sent[i], after[i], 1e-6f, "w[" + i + "]");
        }
        c.push(PullDeltaTest.sparseDelta(4, 5), 1);
        assertEquals(1, coordinator.metrics().lossyBases(), "the next push was based on a full pull");
    }
}
