package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Streaming DiLoCo's fragment pulls: one version after a push, only the fragment it merged travels. */
class FragmentPullTest {
    static final String TOKEN = "s3cret-token-for-tests";

    @TempDir
    Path state;

    /** A delta of random values over the whole model, cut to {@code fragment}. */
    static TensorMap fragmentDelta(TensorMap model, List<Fragments.Slice> fragment, long seed) {
        Random r = new Random(seed);
        TensorMap whole = new TensorMap();
        for (String n : model.names()) {
            float[] v = new float[(int) model.tensor(n).numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (0.01 * r.nextGaussian());
            }
            whole.put(n, Tensor.ofFloats(model.tensor(n).shape(), v));
        }
        return Fragments.cut(whole, fragment);
    }

    @Test
    void theVersionAfterAPushTravelsAsItsFragmentAndRebuildsThePublishedModel() throws Exception {
        TensorMap model = PullDeltaTest.model(); // w [256,128] and b [128]: element fragments cut w
        CoordinatorConfig config = CoordinatorConfig.defaults("diloco").withStrategyConfig(Map.of("workers", 1,
                "fragments", 4, "inner_steps", 8, "optimizer", Map.of("name", "sgd", "lr", 1)));
        List<List<Fragments.Slice>> fragments = Fragments.byElements(model.infos(), 4);
        assertEquals(List.of("w", "b"), Fragments.names(fragments).get(3));
        try (InProcessCoordinator server = InProcessCoordinator.start(state, model, config, List.of(TOKEN), m -> { })) {
            TestClient client = server.client(TOKEN);
            TensorMap v0 = client.pull(-1).tensors();
            client.push(fragmentDelta(model, fragments.get(0), 1), 0);
            assertEquals(1, server.coordinator().version());

            TestClient.Pulled f = client.pullFragment(0, 0);
            assertTrue(f.header().getFragmentPull(), f.header().toString());
            assertEquals(0, f.header().getFragment());
            assertEquals(1, f.header().getVersion());
            assertEquals(f.bytes().byteSize(), f.header().getFragmentBytes());
            assertArrayEquals(f.header().getFragmentSha256().toByteArray(), ModelImage.sha256(f.bytes()));
            TestClient.Pulled full = client.pull(-1);
            TensorMap v1 = full.tensors();
            assertArrayEquals(full.header().getSha256().toByteArray(), f.header().getSha256().toByteArray(),
                    "the header still names the whole model");
            // Only the fragment's quarter of the model travelled, and it rebuilds version 1 bit for bit.
            assertTrue(f.bytes().byteSize() < full.bytes().byteSize() / 3, f.bytes().byteSize() + " of " + full.bytes().byteSize());
            TensorMap values = ModelImage.tensors(f.bytes(), "fragment");
            assertEquals(Fragments.layout(model.infos(), fragments.get(0)), values.infos());
            TensorMap rebuilt = Fragments.paste(v0, values, fragments.get(0));
            assertArrayEquals(full.header().getSha256().toByteArray(),
                    ModelImage.sha256(Safetensors.encode(rebuilt, Map.of(), Arena.ofAuto())));
            assertTrue(Fragments.cut(v1, fragments.get(0)).tensor("w").contentEquals(values.tensor("w")));
            assertFalse(Fragments.cut(v0, fragments.get(0)).tensor("w").contentEquals(values.tensor("w")), "it moved");

            // Another fragment than the one version 1 merged: the whole model.
            TestClient.Pulled other = client.pullFragment(0, 1);
            assertFalse(other.header().getFragmentPull());
            assertEquals(full.bytes().byteSize(), other.bytes().byteSize());
            client.push(fragmentDelta(model, fragments.get(1), 2), 1);
            // Two versions behind: the whole model.
            TestClient.Pulled behind = client.pullFragment(0, 0);
            assertFalse(behind.header().getFragmentPull());
            assertEquals(2, behind.header().getVersion());
            TestClient.Pulled next = client.pullFragment(1, 1);
            assertTrue(next.header().getFragmentPull());
            assertEquals(4, server.coordinator().metrics().pulls("full"));
            assertEquals(2, server.coordinator().metrics().pulls("fragment"));
        }
    }
}
