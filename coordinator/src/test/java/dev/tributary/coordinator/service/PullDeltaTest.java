package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.DecodeLimits;
import dev.tributary.codec.VersionDelta;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pulls answered with only what changed since the version the worker holds. */
class PullDeltaTest {
    static final String TOKEN = "s3cret-token-for-tests";
    static final int ROWS = 256;
    static final int COLS = 128;

    @TempDir
    Path state;

    Coordinator coordinator;
    InProcessCoordinator server;

    static TensorMap model() {
        Random r = new Random(1);
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {ROWS, COLS}, w))
                .put("b", Tensor.ofFloats(new long[] {COLS}, new float[COLS]));
    }

    /** A delta that moves {@code changed} weights of w, chosen by {@code seed}, and nothing else. */
    static TensorMap sparseDelta(long seed, int changed) {
        Random r = new Random(seed);
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < changed; i++) {
            w[r.nextInt(w.length)] = 0.01f * (1 + r.nextInt(9));
        }
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {ROWS, COLS}, w))
                .put("b", Tensor.ofFloats(new long[] {COLS}, new float[COLS]));
    }

    TestClient start(int keep) throws IOException {
        CoordinatorConfig config = CoordinatorConfig.defaults("fedasync")
                .withStrategyConfig(Map.of("alpha", 0.5, "max_staleness", 10, "alpha_scale", "none"));
        config = config.withWire(config.wire().withPullDeltas(keep, 0));
        server = InProcessCoordinator.start(state, model(), config, List.of(TOKEN), m -> { });
        coordinator = server.coordinator();
        return server.client(TOKEN);
    }

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    /** Applies a pulled delta to {@code base}; asserts the result is the published version, bit for bit. */
    static TensorMap rebuild(TestClient.Pulled p, TensorMap base) throws Exception {
        assertTrue(p.header().getVersionDelta(), p.header().toString());
        TensorMap next = VersionDelta.decode(p.bytes(), base, DecodeLimits.forLayout(base.infos()), Arena.ofAuto());
        byte[] sha = ModelImage.sha256(Safetensors.encode(next, Map.of(), Arena.ofAuto()));
        assertArrayEquals(p.header().getSha256().toByteArray(), sha, "the rebuilt model is not the published one");
        assertEquals(p.header().getTotalBytes(), ModelImage.of(0, next).size());
        return next;
    }

    @Test
    void aFewChangedWeightsTravelAsAVersionDeltaMuchSmallerThanTheModel() throws Exception {
        TestClient c = start(4);
        TensorMap v0 = c.pull(-1).tensors();
        c.push(sparseDelta(1, 20), 0);
        TestClient.Pulled p = c.pull(0, true);
        assertEquals(1, p.header().getVersion());
        assertEquals(0, p.header().getDeltaBaseVersion());
        long full = p.header().getTotalBytes();
        assertTrue(p.bytes().byteSize() * 20 < full, p.bytes().byteSize() + " bytes of delta for a model of " + full);
        TensorMap v1 = rebuild(p, v0);
        assertArrayEquals(c.pull(-1).tensors().tensor("w").toFloatArray(), v1.tensor("w").toFloatArray());
        assertEquals(1, coordinator.metrics().pulls("delta"));
        assertEquals(p.bytes().byteSize(), coordinator.metrics().pullBytes("delta"), 0.0);

        // A few versions apart: one delta from v1 to v4.
        for (int i = 0; i < 3; i++) {
            c.push(sparseDelta(10 + i, 20), 1 + i);
        }
        TestClient.Pulled apart = c.pull(1, true);
        assertEquals(1, apart.header().getDeltaBaseVersion());
        assertTrue(apart.bytes().byteSize() * 10 < full, apart.bytes().byteSize() + " bytes");
        rebuild(apart, v1);

        // Nothing but a header when nothing changed.
        TestClient.Pulled same = c.pull(4, true);
        assertTrue(same.header().getUnchanged());
        assertFalse(same.header().getVersionDelta());
        assertEquals(0, same.bytes().byteSize());
        assertEquals(1, coordinator.metrics().pulls("unchanged"));
        // A worker that does not ask for deltas gets whole models, as before.
        TestClient.Pulled plain = c.pull(1);
        assertFalse(plain.header().getVersionDelta());
        assertEquals(full, plain.bytes().byteSize());
    }

    @Test
    void aVersionNoLongerKeptIsAnsweredWithTheWholeModel() throws Exception {
        TestClient c = start(2);
        c.pull(-1);
        for (int i = 0; i < 4; i++) {
            c.push(sparseDelta(20 + i, 5), i);
        }
        TestClient.Pulled evicted = c.pull(0, true);
        assertFalse(evicted.header().getVersionDelta());
        assertEquals(evicted.header().getTotalBytes(), evicted.bytes().byteSize());
        assertArrayEquals(evicted.header().getSha256().toByteArray(), ModelImage.sha256(evicted.bytes()));
        assertTrue(c.pull(2, true).header().getVersionDelta(), "v2 is one of the two past versions kept");
        assertFalse(c.pull(1, true).header().getVersionDelta(), "v1 is not");
        assertEquals(3, coordinator.metrics().pulls("full"));
    }

    @Test
    void noPastVersionsKeptMeansWholeModelsOnly() throws Exception {
        TestClient c = start(0);
        c.push(sparseDelta(1, 5), 0);
        TestClient.Pulled p = c.pull(0, true);
        assertFalse(p.header().getVersionDelta());
        assertEquals(p.header().getTotalBytes(), p.bytes().byteSize());
        assertEquals(1, coordinator.metrics().pulls("full"));
    }
}
