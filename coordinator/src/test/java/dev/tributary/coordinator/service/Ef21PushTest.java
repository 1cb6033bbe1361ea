package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tributary.codec.Codec;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.codec.Ef21Receiver;
import dev.tributary.codec.ErrorFeedback;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * EF21 over the push protocol, and pushes that name the lossy pull they were trained from: the coordinator
 * applies each sender's estimate h exactly as the codec module's receiver computes it, refuses a message coded
 * against an h it does not hold (after a restart, an eviction) so that the sender starts again from h = 0, and
 * checks a lossy base against its own coding of the base version, across restarts too.
 */
class Ef21PushTest {
    static final String TOKEN = "s3cret-token-for-tests";
    static final Codec INT4 = Codec.parse("int4:group=32");

    @TempDir
    Path state;

    final List<String> warnings = new ArrayList<>();
    Coordinator coordinator;
    InProcessCoordinator server;

    TestClient start(CoordinatorConfig config) throws IOException {
        server = InProcessCoordinator.start(state, CodedPushTest.model(1, 1f), config, List.of(TOKEN), warnings::add);
        coordinator = server.coordinator();
        return server.client(TOKEN);
    }

    TestClient restart(CoordinatorConfig config) throws IOException {
        server.close();
        return start(config);
    }

    @AfterEach
    void stop() throws IOException {
        if (server != null) {
            server.close();
        }
    }

    /** One worker's side of EF21: its estimate h advances only when the coordinator acknowledged the message. */
    static final class Sender {
        final String worker;
        final ErrorFeedback ef = ErrorFeedback.of(INT4, ErrorFeedback.Variant.EF21);

        Sender(String worker) {
            this.worker = worker;
        }

        /** The header and message of {@code update} against the current h; nothing advances yet. */
        Coded code(TensorMap update, long base) {
            byte[] guard = ef.stateSha256();
            ErrorFeedback.Pending p = ef.prepare(update);
            UpdateHeader h = TestClient.header(UUID.randomUUID().toString(), base, p.bytes().length).setWorkerId(worker)
                    .setCodec(INT4.spec()).setErrorFeedback("ef21").setEf21EstimateSha256(ByteString.copyFrom(guard)).build();
            return new Coded(h, p);
        }
    }

    record Coded(UpdateHeader header, ErrorFeedback.Pending pending) {
        PushAck push(TestClient c) {
            return c.push(header, MemorySegment.ofArray(pending.bytes()), 1000, false);
        }

        TensorMap decoded() throws Exception {
            List<dev.tributary.tensor.TensorInfo> infos = CodedPushTest.model(1, 1f).infos();
            return INT4.decode(pending.bytes(), infos, DecodeLimits.forLayout(infos));
        }
    }

    /** The strategy run offline on what the simulator applies: each message added to the receiver's h, h applied. */
    static final class Expected {
        final Strategy strategy = Strategies.create("fedasync", CodedPushTest.fedasync().strategyConfig(),
                CodedPushTest.model(1, 1f));
        final Ef21Receiver receiver = new Ef21Receiver();

        void apply(Coded c, long base) throws Exception {
            assertArrayEquals(receiver.estimateSha256(), c.header().getEf21EstimateSha256().toByteArray(),
                    "the sender's h is the receiver's before the message");
            TensorMap h = receiver.accept(c.decoded());
            strategy.onUpdate(new Update(UUID.randomUUID().toString(), base, 10, 1, h, Map.of()));
        }

        void assertModel(TestClient c) {
            TensorMap pulled = c.pull(-1).tensors();
            for (String n : List.of("w", "b")) {
                assertArrayEquals(strategy.model().tensor(n).toFloatArray(), pulled.tensor(n).toFloatArray(), n);
            }
        }
    }

    StatusRuntimeException refused(Status.Code code, String reason, Runnable push) {
        long before = coordinator.metrics().refusedCount(reason);
        long version = coordinator.version();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, push::run);
        assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
        assertEquals(1, e.getStatus().getDescription().lines().count(), e.getStatus().getDescription());
        assertEquals(before + 1, coordinator.metrics().refusedCount(reason), reason + ": " + e.getStatus());
        assertEquals(version, coordinator.version(), "nothing was applied");
        return e;
    }

    /**
     * Codes update {@code i} (the model of seed {@code seedBase + i}) against the sender's estimate, pushes it,
     * commits the sender's estimate once acknowledged and adds it to {@code expected}; returns the ack.
     */
    PushAck pushCommitApply(TestClient c, Sender s, Expected expected, int seedBase, int i) throws Exception {
        Coded coded = s.code(CodedPushTest.model(seedBase + i, 0.02f), i);
        PushAck ack = coded.push(c);
        assertTrue(coded.pending().commit());
        expected.apply(coded, i);
        return ack;
    }

    @Test
    void theCoordinatorAppliesTheEstimateBitForBitAsTheReceiverComputesIt() throws Exception {
        TestClient c = start(CodedPushTest.fedasync());
        Sender s = new Sender("w");
        Expected expected = new Expected();
        for (int i = 0; i < 5; i++) {
            assertEquals(i + 1, pushCommitApply(c, s, expected, 20, i).getVersion());
        }
        expected.assertModel(c);
        // A retry of the last update (its ack lost): a duplicate, h not added twice; the next message still fits.
        Coded next = s.code(CodedPushTest.model(30, 0.02f), 5);
        PushAck first = next.push(c);
        PushAck again = next.push(c);
        assertFalse(first.getDuplicate());
        assertTrue(again.getDuplicate());
        assertEquals(6, coordinator.version());
        next.pending().commit();
        expected.apply(next, 5);
        Coded last = s.code(CodedPushTest.model(31, 0.02f), 6);
        assertEquals(7, last.push(c).getVersion());
        last.pending().commit();
        expected.apply(last, 6);
        expected.assertModel(c);
        assertEquals(0, coordinator.metrics().refusedCount("ef21_estimate"));
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    @Test
    void afterARestartTheSenderIsRefusedOnceResetsAndEveryAcknowledgedUpdateIsAppliedOnce() throws Exception {
        TestClient c = start(CodedPushTest.fedasync());
        Sender s = new Sender("w");
        Expected expected = new Expected();
        for (int i = 0; i < 2; i++) {
            pushCommitApply(c, s, expected, 40, i);
        }
        c = restart(CodedPushTest.fedasync());
        assertEquals(2, coordinator.version(), "both acknowledged updates replayed");
        TensorMap update = CodedPushTest.model(42, 0.02f);
        Coded stale = s.code(update, 2);
        TestClient client = c;
        StatusRuntimeException e = refused(Status.Code.FAILED_PRECONDITION, "ef21_estimate", () -> stale.push(client));
        assertTrue(e.getStatus().getDescription().contains("reset h to 0"), e.getStatus().getDescription());
        // The sender's reset: h = 0 on both sides, the same update sent again under the same id.
        s.ef.reset("the coordinator holds another estimate");
        assertFalse(stale.pending().commit(), "a message prepared before the reset commits nothing");
        expected.receiver.reset();
        Coded fresh = s.code(update, 2);
        UpdateHeader sameId = fresh.header().toBuilder().setUpdateId(stale.header().getUpdateId()).build();
        Coded resent = new Coded(sameId, fresh.pending());
        assertEquals(0, sameId.getEf21EstimateSha256().size());
        assertEquals(3, resent.push(c).getVersion());
        resent.pending().commit();
        expected.apply(resent, 2);
        Coded after = s.code(CodedPushTest.model(43, 0.02f), 3);
        after.push(c);
        after.pending().commit();
        expected.apply(after, 3);
        expected.assertModel(c);
        assertEquals(1, coordinator.metrics().refusedCount("ef21_estimate"), "exactly one reset");
    }

    @Test
    void anEstimateEvictedAtTheBoundIsRefusedAndRebuiltFromZero() throws Exception {
        CoordinatorConfig config = CodedPushTest.fedasync();
        config = config.withWire(config.wire().withEf21Bounds(1, 0));
        TestClient first = start(config);
        TestClient c = first;
        Sender a = new Sender("a");
        Sender b = new Sender("b");
        Coded a1 = a.code(CodedPushTest.model(50, 0.02f), 0);
        a1.push(c);
        a1.pending().commit();
        Coded b1 = b.code(CodedPushTest.model(51, 0.02f), 1);
        b1.push(c);
        b1.pending().commit();
        // b's estimate pushed a's out: a's next message, coded against its h, no longer fits.
        Coded a2 = a.code(CodedPushTest.model(52, 0.02f), 2);
        refused(Status.Code.FAILED_PRECONDITION, "ef21_estimate", () -> a2.push(first));
        assertEquals(1, coordinator.metrics().ef21Evictions());
        assertTrue(coordinator.metrics().scrape().contains("tributary_ef21_evictions_total 1.0"), coordinator.metrics().scrape());
        a.ef.reset("evicted");
        Coded a2again = a.code(CodedPushTest.model(52, 0.02f), 2);
        assertEquals(3, a2again.push(c).getVersion());
        a2again.pending().commit();
        // And with room for both, each keeps its own.
        CoordinatorConfig roomy = CodedPushTest.fedasync();
        c = restart(roomy.withWire(roomy.wire().withEf21Bounds(2, 0)));
        a.ef.reset("restart");
        b.ef.reset("restart");
        for (int i = 0; i < 2; i++) {
            for (Sender s : List.of(a, b)) {
                Coded x = s.code(CodedPushTest.model(60 + i, 0.02f), coordinator.version());
                x.push(c);
                x.pending().commit();
            }
        }
        assertEquals(7, coordinator.version());
        assertEquals(0, coordinator.metrics().refusedCount("ef21_estimate"));
    }

    @Test
    void hostileEf21AndBaseFieldsAreRefusedWithTheirReason() throws Exception {
        TestClient c = start(CodedPushTest.fedasync());
        byte[] message = INT4.encode(CodedPushTest.model(70, 0.02f));
        UpdateHeader.Builder ok = TestClient.header(UUID.randomUUID().toString(), 0, message.length).setCodec(INT4.spec());
        MemorySegment bytes = MemorySegment.ofArray(message);
        byte[] forged = new byte[32];
        new java.util.Random(7).nextBytes(forged);
        // A guard naming an h the coordinator never had.
        refused(Status.Code.FAILED_PRECONDITION, "ef21_estimate", () -> c.push(ok.clone().setErrorFeedback("ef21")
                .setEf21EstimateSha256(ByteString.copyFrom(forged)).build(), bytes, 1000, false));
        // EF21 around a lossless codec, or no codec at all; an unknown variant; a guard of the wrong size.
        byte[] lossless = Codec.parse("lossless").encode(CodedPushTest.model(70, 0.02f));
        refused(Status.Code.INVALID_ARGUMENT, "error_feedback", () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0,
                lossless.length).setCodec("lossless:level=3").setErrorFeedback("ef21").build(), MemorySegment.ofArray(lossless),
                1000, false));
        MemorySegment plain = Safetensors.encode(CodedPushTest.model(70, 0.02f), Map.of(), Arena.ofAuto());
        refused(Status.Code.INVALID_ARGUMENT, "error_feedback", () -> c.push(TestClient.header(UUID.randomUUID().toString(), 0,
                plain.byteSize()).setErrorFeedback("ef21").build(), plain, 1000, false));
        refused(Status.Code.INVALID_ARGUMENT, "error_feedback", () -> c.push(ok.clone().setErrorFeedback("ef99").build(), bytes,
                1000, false));
        refused(Status.Code.INVALID_ARGUMENT, "malformed", () -> c.push(ok.clone().setErrorFeedback("ef21")
                .setEf21EstimateSha256(ByteString.copyFrom(new byte[5])).build(), bytes, 1000, false));
        // A lossy base that was never pulled, one without its digest, one by a codec no pull is answered with.
        refused(Status.Code.FAILED_PRECONDITION, "lossy_base", () -> c.push(ok.clone().setBaseCodec("int8:group=64")
                .setBaseDecodedSha256(ByteString.copyFrom(forged)).build(), bytes, 1000, false));
        refused(Status.Code.INVALID_ARGUMENT, "malformed", () -> c.push(ok.clone().setBaseCodec("int8:group=64").build(), bytes,
                1000, false));
        refused(Status.Code.FAILED_PRECONDITION, "lossy_base", () -> c.push(ok.clone().setBaseCodec("topk:fraction=0.5")
                .setBaseDecodedSha256(ByteString.copyFrom(forged)).build(), bytes, 1000, false));
        assertEquals(0, coordinator.metrics().lossyBases());
        // The honest push still goes in.
        assertEquals(1, c.push(ok.build(), bytes, 1000, false).getVersion());
        assertTrue(warnings.isEmpty(), warnings.toString());
    }

    /** A delta trained from {@code p}'s decoded weights, pushed with the base fields that name that pull. */
    static UpdateHeader lossyHeader(TestClient.Pulled p, long deltaBytes) {
        return TestClient.header(UUID.randomUUID().toString(), p.header().getVersion(), deltaBytes)
                .setBaseCodec(p.header().getCodec()).setBaseDecodedSha256(p.header().getDecodedSha256()).build();
    }

    @Test
    void aLossyBaseIsCheckedAcrossARestartAndRefusedOnceItCannotBeRebuilt() throws Exception {
        CoordinatorConfig config = CodedPushTest.fedasync();
        config = config.withWire(config.wire().withPullDeltas(0, 0));
        TestClient c = start(config);
        c.push(CodedPushTest.model(80, 0.01f), 0);
        TestClient.Pulled p = c.pull(LossyPullTest.lossy("w", -1, "int8"));
        assertEquals(1, p.header().getVersion());
        MemorySegment delta = Safetensors.encode(CodedPushTest.model(81, 0.01f), Map.of(), Arena.ofAuto());
        // The coordinator restarts: the coding it made is forgotten, but version 1 is current: coded again, it matches.
        c = restart(config);
        assertEquals(2, c.push(lossyHeader(p, delta.byteSize()), delta, 1000, false).getVersion());
        assertEquals(1, coordinator.metrics().lossyBases());
        // A second pull of version 2, then a restart and a publish: version 2 is gone and its coding forgotten.
        TestClient.Pulled p2 = c.pull(LossyPullTest.lossy("w", 1, "int8"));
        assertEquals(2, p2.header().getVersion());
        c.push(CodedPushTest.model(82, 0.01f), 2);
        assertEquals(4, c.push(lossyHeader(p2, delta.byteSize()), delta, 1000, false).getVersion(),
                "remembered: version 2's coding was made here");
        assertEquals(2, coordinator.metrics().lossyBases());
        c = restart(config);
        c.push(CodedPushTest.model(83, 0.01f), 4);
        TestClient client = c;
        StatusRuntimeException e = refused(Status.Code.FAILED_PRECONDITION, "lossy_base",
                () -> client.push(lossyHeader(p2, delta.byteSize()), delta, 1000, false));
        assertTrue(e.getStatus().getDescription().contains("no longer holds that version"), e.getStatus().getDescription());
        // A digest that is not the version's coding.
        TestClient.Pulled p4 = c.pull(LossyPullTest.lossy("w", 4, "bf16"));
        assertEquals(5, p4.header().getVersion());
        UpdateHeader wrong = lossyHeader(p4, delta.byteSize()).toBuilder().setBaseDecodedSha256(p.header().getDecodedSha256())
                .build();
        refused(Status.Code.FAILED_PRECONDITION, "lossy_base", () -> client.push(wrong, delta, 1000, false));
        assertEquals(6, c.push(lossyHeader(p4, delta.byteSize()), delta, 1000, false).getVersion());
        assertEquals(1, coordinator.metrics().lossyBases());
    }
}
