package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.store.TestModels;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.store.ModelImage;
import dev.tributary.store.StateDirectory;
import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.HeartbeatRequest;
import dev.tributary.protocol.PullRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.RegisterReply;
import dev.tributary.protocol.RegisterRequest;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CoordinatorServiceTest {
    static final String TOKEN = "s3cret-token-for-tests";

    @TempDir
    Path state;

    final List<String> warnings = new ArrayList<>();
    Coordinator coordinator;
    ManagedChannel channel;

    TestClient start(CoordinatorConfig config) throws IOException {
        String name = InProcessServerBuilder.generateName();
        coordinator = Coordinator.start(InProcessServerBuilder.forName(name).directExecutor(), state, TestModels.model(1),
                config, Tokens.of(List.of(TOKEN, "another-token")), warnings::add);
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        return new TestClient(channel, TOKEN);
    }

    @AfterEach
    void stop() throws IOException {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (coordinator != null) {
            coordinator.close();
        }
    }

    static CoordinatorConfig fedasync() {
        return CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 0.5, "max_staleness", 2));
    }

    @Test
    void everyPublishIsReportedOnceDurableWithItsUpdatesAndStaleness() throws Exception {
        TestClient c = start(fedasync());
        java.util.concurrent.LinkedBlockingQueue<dev.tributary.coordinator.Publication> seen = new java.util.concurrent.LinkedBlockingQueue<>();
        coordinator.onPublish(seen::add);
        c.push(TestModels.delta(1, 0.1f), 0);
        c.push(TestModels.delta(2, 0.1f), 0);
        dev.tributary.coordinator.Publication first = seen.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        dev.tributary.coordinator.Publication second = seen.poll(5, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, first.version());
        assertEquals(1, first.updateIds().size());
        assertEquals(0.0, first.meanStaleness());
        assertEquals(2, second.version());
        assertEquals(1.0, second.meanStaleness(), "the second was based on version 0 and arrived at version 1");
        assertTrue(second.describe().startsWith("version 2: 1 update, staleness mean 1.00, aggregation "), second.describe());
        assertTrue(coordinator.version() >= second.version(), "reported only once visible");
    }

    @Test
    void registerHeartbeatAndLease() throws IOException {
        TestClient c = start(fedasync());
        RegisterReply r = c.blocking.register(RegisterRequest.newBuilder().setName("laptop")
                .setCapabilities(Capabilities.newBuilder().setDeviceKind("cpu").setCores(2).addCodecs("safetensors")).build());
        assertEquals("fedasync", r.getStrategy());
        assertEquals(0, r.getVersion());
        assertFalse(r.getWaitForNewVersion());
        assertEquals(15_000, r.getLeaseMillis());
        assertEquals(1, coordinator.liveWorkers());
        assertEquals(0, c.blocking.heartbeat(HeartbeatRequest.newBuilder().setWorkerId(r.getWorkerId()).build()).getVersion());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> c.blocking.heartbeat(HeartbeatRequest.newBuilder().setWorkerId("nobody").build()));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    }

    @Test
    void pullStreamsTheModelWithItsShaAndSaysUnchangedWhenCurrent() throws IOException {
        TestClient c = start(fedasync());
        TestClient.Pulled p = c.pull(-1);
        assertEquals(0, p.header().getVersion());
        ModelImage expected = ModelImage.of(0, TestModels.model(1));
        assertArrayEquals(expected.sha256(), p.header().getSha256().toByteArray());
        assertArrayEquals(expected.sha256(), ModelImage.sha256(p.bytes()));
        assertTrue(TestModels.model(1).tensor("w").contentEquals(p.tensors().tensor("w")));
        TestClient.Pulled again = c.pull(0);
        assertTrue(again.header().getUnchanged());
        assertEquals(0, again.bytes().byteSize());
    }

    @Test
    void anAcceptedUpdateIsAckedAppliedAndLoggedOnceEvenWhenPushedTwice() throws IOException {
        TestClient c = start(fedasync());
        String id = UUID.randomUUID().toString();
        TensorMap delta = TestModels.delta(7, 0.1f);
        PushAck first = c.push(id, delta, 0);
        assertFalse(first.getDuplicate());
        assertEquals(1, first.getVersion());
        assertEquals(0, first.getStaleness());
        PushAck second = c.push(id, delta, 0);
        assertTrue(second.getDuplicate());
        assertEquals(1, second.getVersion());
        assertEquals(1, coordinator.version());
        assertEquals(1, coordinator.accepted());
        assertEquals(List.of(id), StateDirectory.acceptedUpdateIds(state));
        // FedAsync with constant staleness and α = 0.5 mixes half the delta in.
        TensorMap m = c.pull(0).tensors();
        float w0 = TestModels.model(1).tensor("w").getFloat(0) + 0.5f * delta.tensor("w").getFloat(0);
        assertEquals(w0, m.tensor("w").getFloat(0), 1e-6f);
    }

    /** Asserts the refusal's status and message, that it was counted, and that nothing changed. */
    void assertRefused(Status.Code code, String reason, String messagePart, Executable push) throws IOException {
        long version = coordinator.version();
        long accepted = coordinator.accepted();
        long refused = coordinator.metrics().refusedCount(reason);
        byte[] sha = new TestClient(channel, TOKEN).pull(-1).header().getSha256().toByteArray();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, push::run);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertTrue(e.getStatus().getDescription().contains(messagePart), e.getStatus().getDescription());
        assertEquals(refused + 1, coordinator.metrics().refusedCount(reason), reason);
        assertEquals(version, coordinator.version());
        assertEquals(accepted, coordinator.accepted());
        assertArrayEquals(sha, new TestClient(channel, TOKEN).pull(-1).header().getSha256().toByteArray());
    }

    @FunctionalInterface
    interface Executable {
        void run();
    }

    @Test
    void everyValidationRuleRefusesWithItsStatusAndTouchesNothing() throws IOException {
        TestClient c = start(fedasync().withNormBound(5.0, CoordinatorConfig.NormPolicy.REFUSE));
        TensorMap wrongShape = TestModels.delta(1, 0.1f).put("b", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4));
        assertRefused(Status.Code.INVALID_ARGUMENT, "shape", "tensor b: shape [4] != [3]", () -> c.push(wrongShape, 0));
        TensorMap wrongDtype = TestModels.delta(1, 0.1f).put("b", Tensor.ofFloats(DType.F16, new long[] {3}, 1, 2, 3));
        assertRefused(Status.Code.INVALID_ARGUMENT, "dtype", "tensor b: dtype F16 != F32", () -> c.push(wrongDtype, 0));
        TensorMap extra = TestModels.delta(1, 0.1f).put("z", Tensor.ofFloats(new long[] {1}, 1));
        assertRefused(Status.Code.INVALID_ARGUMENT, "unknown_tensor", "tensor z: not in the model", () -> c.push(extra, 0));
        TensorMap missing = new TensorMap().put("w", TestModels.delta(1, 0.1f).tensor("w"));
        assertRefused(Status.Code.INVALID_ARGUMENT, "missing_tensor", "tensor b: missing", () -> c.push(missing, 0));
        TensorMap nan = TestModels.delta(1, 0.1f);
        nan.tensor("w").setFloat(5, Float.NaN);
        assertRefused(Status.Code.INVALID_ARGUMENT, "non_finite", "tensor w: value NaN at index 5", () -> c.push(nan, 0));
        TensorMap big = TestModels.delta(1, 100f);
        assertRefused(Status.Code.INVALID_ARGUMENT, "norm", "> bound 5.0", () -> c.push(big, 0));
        assertRefused(Status.Code.FAILED_PRECONDITION, "base_version", "base_version 3 is unknown",
                () -> c.push(TestModels.delta(1, 0.1f), 3));
        MemorySegment img = Safetensors.encode(TestModels.delta(1, 0.1f), Map.of(), Arena.ofAuto());
        assertRefused(Status.Code.DATA_LOSS, "crc", "CRC32C mismatch",
                () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0, img.byteSize()).build(), img, 16, true));
        assertRefused(Status.Code.INVALID_ARGUMENT, "malformed", "not a UUID",
                () -> c.push(TestClient.header("update-1", 0, img.byteSize()).build(), img, 16, false));
        assertRefused(Status.Code.RESOURCE_EXHAUSTED, "size", "> limit",
                () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0, 1L << 40).build(), img, 16, false));
        assertRefused(Status.Code.INVALID_ARGUMENT, "codec", "unknown codec \"zip9\"",
                () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0, img.byteSize()).setCodec("zip9").build(), img, 16, false));
        assertRefused(Status.Code.INVALID_ARGUMENT, "codec_malformed", "int8:group=64 delta refused: malformed: not a TRBC message",
                () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0, img.byteSize()).setCodec("int8").build(), img, 16, false));
        assertRefused(Status.Code.INVALID_ARGUMENT, "malformed", "received",
                () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0, img.byteSize() + 8).build(), img, 16, false));
        MemorySegment junk = MemorySegment.ofArray(new byte[64]);
        assertRefused(Status.Code.INVALID_ARGUMENT, "malformed", "delta: header does not start with '{'",
                () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0, 64).build(), junk, 16, false));
        assertEquals(List.of(), StateDirectory.acceptedUpdateIds(state));
    }

    @Test
    void stalenessBeyondTheBoundIsRefusedAndCounted() throws IOException {
        TestClient c = start(fedasync());
        for (int i = 0; i < 3; i++) {
            c.push(TestModels.delta(i, 0.01f), i);
        }
        assertEquals(3, coordinator.version());
        assertRefused(Status.Code.FAILED_PRECONDITION, "staleness", "staleness 3 > max 2",
                () -> c.push(TestModels.delta(9, 0.01f), 0));
        PushAck ok = c.push(TestModels.delta(9, 0.01f), 1);
        assertEquals(2, ok.getStaleness());
    }

    @Test
    void clippingScalesAnOverNormDeltaDownToTheBound() throws IOException {
        TestClient c = start(CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 1.0))
                .withNormBound(0.5, CoordinatorConfig.NormPolicy.CLIP));
        TensorMap delta = TestModels.delta(4, 10f);
        double norm = 0;
        for (Tensor t : delta.asMap().values()) {
            for (float v : t.toFloatArray()) {
                norm += (double) v * v;
            }
        }
        float scale = (float) (0.5 / Math.sqrt(norm));
        c.push(delta, 0);
        TensorMap m = c.pull(0).tensors();
        for (String n : List.of("w", "b")) {
            float[] before = TestModels.model(1).tensor(n).toFloatArray();
            float[] d = delta.tensor(n).toFloatArray();
            float[] after = m.tensor(n).toFloatArray();
            for (int i = 0; i < after.length; i++) {
                assertEquals(before[i] + d[i] * scale, after[i], 1e-5f, n + "[" + i + "]");
            }
        }
    }

    @Test
    void missingAndWrongTokensAreRefusedBeforeAnythingIsReadOrStored() throws IOException {
        start(fedasync());
        for (String token : new String[] {null, "wrong-token", ""}) {
            TestClient bad = new TestClient(channel, token);
            List<Executable> calls = List.of(
                    () -> bad.blocking.register(RegisterRequest.newBuilder().setName("x").build()),
                    () -> bad.blocking.heartbeat(HeartbeatRequest.newBuilder().setWorkerId("x").build()),
                    () -> bad.blocking.pullModel(PullRequest.newBuilder().setKnownVersion(-1).build()).next(),
                    () -> bad.push(TestModels.delta(1, 0.1f), 0));
            for (Executable call : calls) {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            }
        }
        assertEquals(12, coordinator.metrics().unauthenticatedTotal());
        assertEquals(0, coordinator.liveWorkers());
        assertEquals(0, coordinator.version());
        assertEquals(List.of(), StateDirectory.acceptedUpdateIds(state));
        TestClient other = new TestClient(channel, "another-token");
        assertEquals(1, other.push(TestModels.delta(1, 0.1f), 0).getVersion());
    }

    @Test
    void aSecondCoordinatorCannotOpenTheSameState() throws IOException {
        start(fedasync());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Coordinator.start(
                InProcessServerBuilder.forName(InProcessServerBuilder.generateName()), state, TestModels.model(1), fedasync(),
                Tokens.of(List.of(TOKEN)), warnings::add));
        assertTrue(e.getMessage().contains("in use"), e.getMessage());
    }
}
