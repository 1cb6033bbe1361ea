package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client's side of a lossy pull: both digests checked, the decoded weights kept, a whole pull on any mismatch. */
class LossyPullClientTest {
    @TempDir
    Path dir;

    Server server;
    ManagedChannel channel;
    FakeCoordinator fake;

    static TensorMap model() {
        Random r = new Random(7);
        float[] w = new float[32 * 16];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {32, 16}, w)).put("b", Tensor.ofFloats(new long[] {16},
                new float[16]));
    }

    CoordinatorClient start(FakeCoordinator.Coded mode) throws Exception {
        fake = new FakeCoordinator(model(), dir);
        fake.coded = mode;
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(fake).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        return new CoordinatorClient(channel, "tok");
    }

    @AfterEach
    void stop() {
        if (channel != null) {
            channel.shutdownNow();
            server.shutdownNow();
            channel = null;
            server = null;
        }
    }

    static float[] decoded(String spec) throws Exception {
        TensorMap m = model();
        Codec c = Codec.parse(spec);
        return c.decode(c.encode(m), m.infos(), DecodeLimits.forLayout(m.infos())).tensor("w").toFloatArray();
    }

    @Test
    void aCodedPullKeepsTheDecodedWeightsAndNamesTheirImage() throws Exception {
        CoordinatorClient client = start(FakeCoordinator.Coded.HONEST);
        for (String spec : new String[] {"bf16", "int8"}) {
            CoordinatorClient.Pulled p = client.pull("w", -1, dir.resolve(spec), null, true, Codec.parse(spec));
            assertEquals(Codec.parse(spec).spec(), p.codec());
            assertNull(p.fallback());
            assertEquals(p.bytes(), Files.size(p.file()));
            assertTrue(p.wireBytes() < p.bytes(), p.wireBytes() + " coded bytes for " + p.bytes());
            try (SafetensorsFile f = SafetensorsFile.open(p.file())) {
                float[] got = f.tensor("w").toFloatArray();
                assertTrue(java.util.Arrays.equals(decoded(spec), got), spec + ": the file holds the decoded weights");
                assertFalse(java.util.Arrays.equals(model().tensor("w").toFloatArray(), got), spec + " is lossy");
            }
        }
    }

    @Test
    void aWrongCodedOrDecodedDigestFallsBackToTheWholeModel() throws Exception {
        for (FakeCoordinator.Coded bad : new FakeCoordinator.Coded[] {FakeCoordinator.Coded.BAD_CODED_SHA,
                FakeCoordinator.Coded.BAD_DECODED_SHA}) {
            CoordinatorClient client = start(bad);
            CoordinatorClient.Pulled p = client.pull("w", -1, dir.resolve(bad.name()), null, true, Codec.parse("int8"));
            assertNull(p.codec(), bad.name());
            assertTrue(p.fallback() != null && p.fallback().contains("SHA-256"), bad + ": " + p.fallback());
            assertTrue(p.fallback().contains(bad == FakeCoordinator.Coded.BAD_CODED_SHA ? "coded model" : "decoded model"),
                    p.fallback());
            try (SafetensorsFile f = SafetensorsFile.open(p.file())) {
                assertTrue(java.util.Arrays.equals(model().tensor("w").toFloatArray(), f.tensor("w").toFloatArray()),
                        "the exact model came instead");
            }
            assertTrue(p.wireBytes() > p.bytes(), "the coded bytes and the whole model both came");
            stop();
        }
    }

    /** A coordinator that ignores the codec (an older one, or one that refuses it) sends f32: taken as exact. */
    @Test
    void anF32AnswerToALossyPullIsTheExactModel() throws Exception {
        CoordinatorClient client = start(null);
        CoordinatorClient.Pulled p = client.pull("w", -1, dir.resolve("x"), null, true, Codec.parse("bf16"));
        assertNull(p.codec());
        assertNull(p.fallback());
        try (SafetensorsFile f = SafetensorsFile.open(p.file())) {
            assertTrue(java.util.Arrays.equals(model().tensor("w").toFloatArray(), f.tensor("w").toFloatArray()));
        }
    }

    @Test
    void topKIsNoPullCodec() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> WireOptions.DEFAULTS.withPullCodec(Codec.parse("topk:fraction=0.1")));
        assertTrue(e.getMessage().startsWith("pull codec topk:fraction=0.1: top-k would zero most weights"), e.getMessage());
    }
}
