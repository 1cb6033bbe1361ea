package dev.tributary.rl.learner;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.ExperienceAck;
import dev.tributary.protocol.ExperienceHeader;
import dev.tributary.protocol.ExperiencePart;
import dev.tributary.protocol.LearnerGrpc;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PolicyRequest;
import dev.tributary.protocol.RegisterActorReply;
import dev.tributary.protocol.RegisterActorRequest;
import dev.tributary.protocol.SpaceSpec;
import dev.tributary.rl.actor.LearnerClient;
import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Space;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The learner's service in process: registration, cheap pulls, and every kind of malformed experience
 * refused with its reason and counted before it reaches the buffer. The learner under test is at version
 * 20 (resumed from a checkpoint) with max_lag 8, T = 16 and items of at most 64 KiB.
 */
class LearnerServiceTest {
    static final int T = 16;
    static final long CURRENT = 20;
    static final Space ACTIONS = new Space.Discrete(2);
    static final LearnerConfig CONFIG = LearnerConfig.of("ppo", Map.of("steps_per_item", T, "batch_items", 2,
            "max_item_bytes", 65536, "max_lag", 8));

    LearnerFixture fixture;
    LearnerClient client;

    @BeforeEach
    void start() throws Exception {
        MemoryBuffer buffer = MemoryBuffer.inMemory(64);
        // A first learner leaves a checkpoint at version 0; moved on to 20, it is where the second one resumes.
        LearnerFixture.start(CONFIG, buffer, true).close();
        TensorMap state = buffer.lastCallerState().orElseThrow();
        state.putMetadata("version", Long.toString(CURRENT));
        buffer.checkpoint(state);
        fixture = LearnerFixture.start(CONFIG, buffer, true);
        client = new LearnerClient(fixture.channel, LearnerFixture.TOKEN, Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    @Test
    void resumesTheCheckpointedVersion() {
        assertEquals(CURRENT, fixture.learner.version());
    }

    @Test
    void anUnchangedPullSendsOnlyTheHeader() {
        LearnerGrpc.LearnerBlockingStub raw = raw(LearnerFixture.TOKEN);
        List<ModelPart> full = new ArrayList<>();
        raw.pullPolicy(PolicyRequest.newBuilder().setKnownVersion(-1).build()).forEachRemaining(full::add);
        assertTrue(full.size() >= 2, "a header and chunks");
        assertEquals(CURRENT, full.getFirst().getHeader().getVersion());
        assertFalse(full.getFirst().getHeader().getUnchanged());

        List<ModelPart> again = new ArrayList<>();
        raw.pullPolicy(PolicyRequest.newBuilder().setKnownVersion(CURRENT).build()).forEachRemaining(again::add);
        assertEquals(1, again.size(), "only the header");
        assertTrue(again.getFirst().getHeader().getUnchanged());
        assertEquals(CURRENT, again.getFirst().getHeader().getVersion());
        assertEquals(full.getFirst().getHeader().getSha256(), again.getFirst().getHeader().getSha256());

        LearnerClient.Policy p = client.pull("a", -1);
        assertNotNull(p.weights());
        assertArrayEquals(ModelImage.of(CURRENT, p.weights()).sha256(), p.sha256());
        assertTrue(client.pull("a", CURRENT).unchanged());
    }

    @Test
    void registrationChecksTheEnvironment() {
        RegisterActorReply r = client.register(register("CartPole-v1", SpaceMessages.toMessage(new Space.Discrete(2))));
        assertEquals(CURRENT, r.getVersion());
        assertEquals(T, r.getStepsPerItem());
        assertEquals("ppo", r.getAlgo());
        assertEquals(List.of(64, 64), r.getHiddenList());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> client.register(register("CartPole-v1", SpaceMessages.toMessage(new Space.Discrete(3)))));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        e = assertThrows(StatusRuntimeException.class, () -> client.register(register("Acrobot-v1",
                SpaceMessages.toMessage(ACTIONS))));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        e = assertThrows(StatusRuntimeException.class, () -> client.register(register("x".repeat(1000),
                SpaceMessages.toMessage(ACTIONS))));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    }

    @Test
    void everyCallNeedsAToken() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> raw("wrong").pullPolicy(PolicyRequest.newBuilder().setKnownVersion(-1).build()).next());
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    }

    @Test
    void aValidItemIsStoredAndARepeatedIdIsAcknowledgedOnce() {
        String id = UUID.randomUUID().toString();
        Experience x = LearnerFixture.cartPole(T, 2, CURRENT - 3);
        ExperienceAck first = client.push(header(id, x), bytes(ExperienceFormat.encode(x, ACTIONS)));
        assertFalse(first.getDuplicate());
        assertEquals(3, first.getLag());
        assertEquals(CURRENT, first.getVersion());
        ExperienceAck second = client.push(header(id, x), bytes(ExperienceFormat.encode(x, ACTIONS)));
        assertTrue(second.getDuplicate());
        assertEquals(List.of(id), fixture.buffer.insertedIds());
        assertEquals(1, fixture.buffer.size());
        assertEquals(1, fixture.learner.accepted());
        assertEquals(T * 2, fixture.learner.envSteps());
        assertEquals(0, fixture.learner.rejected());
    }

    @Test
    void aRepeatedIdIsADuplicateAfterARestartToo() throws Exception {
        String id = UUID.randomUUID().toString();
        Experience x = LearnerFixture.cartPole(T, 2, CURRENT);
        assertFalse(client.push(header(id, x), bytes(ExperienceFormat.encode(x, ACTIONS))).getDuplicate());
        MemoryBuffer buffer = fixture.buffer;
        fixture.close();
        fixture = LearnerFixture.start(CONFIG, buffer, true);
        client = new LearnerClient(fixture.channel, LearnerFixture.TOKEN, Duration.ofSeconds(10));
        assertTrue(client.push(header(id, x), bytes(ExperienceFormat.encode(x, ACTIONS))).getDuplicate());
        assertEquals(List.of(id), buffer.insertedIds());
        assertEquals(T * 2, fixture.learner.envSteps(), "the checkpoint kept the count");
    }

    /** A malformed push: what to send, the status and the reason it must be refused with. */
    record Malformed(String name, Status.Code code, String reason, ExperienceHeader header, MemorySegment payload,
                     boolean badCrc, UnaryOperator<List<ExperiencePart>> reshape) {
        Malformed(String name, Status.Code code, String reason, ExperienceHeader header, MemorySegment payload,
                boolean badCrc) {
            this(name, code, reason, header, payload, badCrc, UnaryOperator.identity());
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> malformed() {
        Experience ok = LearnerFixture.cartPole(T, 2, CURRENT);
        return Stream.of(
                tensors("wrong observation shape", "shape", ok, m -> m.put(ExperienceFormat.OBSERVATIONS,
                        Tensor.ofFloats(new long[] {T, 2, 3}, new float[T * 2 * 3]))),
                tensors("NaN reward", "non_finite", ok, m -> m.put(ExperienceFormat.REWARDS,
                        floats(T, 2, 5, Float.NaN, 1f))),
                tensors("infinite observation", "non_finite", ok, m -> m.put(ExperienceFormat.NEXT_OBSERVATIONS,
                        Tensor.ofFloats(new long[] {T, 2, 4}, filled(T * 2 * 4, 7, Float.POSITIVE_INFINITY)))),
                tensors("observation outside the box", "observation", ok, m -> m.put(ExperienceFormat.OBSERVATIONS,
                        Tensor.ofFloats(new long[] {T, 2, 4}, filled(T * 2 * 4, 0, 10f)))),
                tensors("action outside the space", "action", ok, m -> m.put(ExperienceFormat.ACTIONS,
                        longs(T, 2, 3, 2))),
                tensors("negative action", "action", ok, m -> m.put(ExperienceFormat.ACTIONS, longs(T, 2, 0, -1))),
                tensors("rewards as f64", "dtype", ok, m -> m.put(ExperienceFormat.REWARDS,
                        Tensor.ofFloats(DType.F64, new long[] {T, 2}, new float[T * 2]))),
                tensors("a flag of 2", "flags", ok, m -> m.put(ExperienceFormat.TERMINATED, flag(T, 2, 4, (byte) 2))),
                tensors("a missing tensor", "malformed", ok, m -> without(m, ExperienceFormat.EPISODE_RETURNS)),
                tensors("an extra tensor", "malformed", ok, m -> m.put("weights", Tensor.ofFloats(new long[] {1}, 1f))),
                tensors("a return where no episode ended", "malformed", ok, m -> m.put(ExperienceFormat.EPISODE_RETURNS,
                        floats(T, 2, 1, 9f, 0f))),
                tensors("versions that differ from the header's", "malformed", ok, m -> m.put(
                        ExperienceFormat.POLICY_VERSIONS, longs(T, 2, 0, CURRENT - 1, CURRENT))),
                item("an unknown policy version", Status.Code.FAILED_PRECONDITION, "version",
                        LearnerFixture.cartPole(T, 2, CURRENT + 1)),
                item("lag beyond max_lag", Status.Code.FAILED_PRECONDITION, "lag",
                        LearnerFixture.cartPole(T, 2, CURRENT - 9)),
                item("steps other than steps_per_item", Status.Code.INVALID_ARGUMENT, "shape",
                        LearnerFixture.cartPole(T / 2, 2, CURRENT)),
                item("an oversized item", Status.Code.RESOURCE_EXHAUSTED, "size", LearnerFixture.cartPole(T, 128, CURRENT)),
                raw("a chunk past payload_bytes", Status.Code.RESOURCE_EXHAUSTED, "size", ok,
                        h -> h.setPayloadBytes(h.getPayloadBytes() - 10), false),
                raw("another environment", Status.Code.FAILED_PRECONDITION, "env", ok, h -> h.setEnvId("Acrobot-v1"), false),
                raw("an item id that is not a UUID", Status.Code.INVALID_ARGUMENT, "malformed", ok,
                        h -> h.setItemId("item-1"), false),
                raw("a header whose payload is not safetensors", Status.Code.INVALID_ARGUMENT, "malformed", ok,
                        h -> h, true),
                raw("a chunk with a wrong CRC32C", Status.Code.DATA_LOSS, "crc", ok, h -> h, false),
                tensors("NaN behaviour log-probability", "non_finite", ok, m -> m.put(ExperienceFormat.BEHAVIOUR_LOG_PROBS,
                        floats(T, 2, 3, Float.NaN, (float) Math.log(0.5)))),
                tensors("infinite reward", "non_finite", ok, m -> m.put(ExperienceFormat.REWARDS,
                        floats(T, 2, 0, Float.NEGATIVE_INFINITY, 1f))),
                raw("a stream shorter than payload_bytes", Status.Code.INVALID_ARGUMENT, "malformed", ok,
                        h -> h.setPayloadBytes(h.getPayloadBytes() + 10), false),
                raw("payload_bytes of 2^63 - 1", Status.Code.RESOURCE_EXHAUSTED, "size", ok,
                        h -> h.setPayloadBytes(Long.MAX_VALUE), false),
                raw("versions min > max", Status.Code.INVALID_ARGUMENT, "version", ok,
                        h -> h.setMinPolicyVersion(CURRENT).setMaxPolicyVersion(CURRENT - 1), false),
                raw("a negative policy version", Status.Code.INVALID_ARGUMENT, "version", ok,
                        h -> h.setMinPolicyVersion(-1), false),
                raw("an actor id of 10,000 characters", Status.Code.INVALID_ARGUMENT, "malformed", ok,
                        h -> h.setActorId("a".repeat(10_000)), false),
                parts("a second header", "malformed", ok, l -> {
                    List<ExperiencePart> out = new ArrayList<>(l);
                    out.add(1, l.getFirst());
                    return out;
                }),
                parts("a chunk before the header", "malformed", ok, l -> {
                    List<ExperiencePart> out = new ArrayList<>(l);
                    out.add(0, out.remove(1));
                    return out;
                }),
                parts("an empty part", "malformed", ok, l -> {
                    List<ExperiencePart> out = new ArrayList<>(l);
                    out.add(1, ExperiencePart.getDefaultInstance());
                    return out;
                }),
                parts("no header at all", "malformed", ok, l -> l.subList(1, l.size())),
                parts("a chunk out of order", "malformed", ok, l -> {
                    List<ExperiencePart> out = new ArrayList<>(l);
                    out.add(2, out.remove(out.size() - 1));
                    return out;
                }))
                ;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("malformed")
    void isRefusedWithItsReasonCountedAndNeverStored(Malformed m) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> rawPush(m));
        assertEquals(m.code(), e.getStatus().getCode(), e.getStatus().toString());
        String description = e.getStatus().getDescription();
        assertNotNull(description);
        assertEquals(1, description.lines().count(), "one line: " + description);
        assertEquals(1, fixture.learner.metrics().refusedCount(m.reason()), m.reason() + ": " + description);
        assertEquals(1, fixture.learner.rejected());
        assertEquals(List.of(), fixture.buffer.insertedIds());
        assertEquals(0, fixture.buffer.size());
        assertEquals(0, fixture.learner.accepted());
        assertTrue(fixture.learner.metrics().scrape().contains("reason=\"" + m.reason() + "\""));
    }

    private static Arguments tensors(String name, String reason, Experience x, UnaryOperator<TensorMap> change) {
        TensorMap m = change.apply(ExperienceFormat.encode(x, ACTIONS));
        MemorySegment payload = bytes(m);
        return Arguments.of(new Malformed(name, Status.Code.INVALID_ARGUMENT, reason, header(UUID.randomUUID().toString(), x)
                .toBuilder().setPayloadBytes(payload.byteSize()).build(), payload, false));
    }

    private static Arguments item(String name, Status.Code code, String reason, Experience x) {
        MemorySegment payload = bytes(ExperienceFormat.encode(x, ACTIONS));
        return Arguments.of(new Malformed(name, code, reason, header(UUID.randomUUID().toString(), x).toBuilder()
                .setPayloadBytes(payload.byteSize()).build(), payload, false));
    }

    /** A valid item whose stream of parts {@code reshape} rearranges. */
    private static Arguments parts(String name, String reason, Experience x, UnaryOperator<List<ExperiencePart>> reshape) {
        MemorySegment payload = bytes(ExperienceFormat.encode(x, ACTIONS));
        return Arguments.of(new Malformed(name, Status.Code.INVALID_ARGUMENT, reason, header(UUID.randomUUID().toString(), x)
                .toBuilder().setPayloadBytes(payload.byteSize()).build(), payload, false, reshape));
    }

    /** {@code garbage}: the payload is random bytes; a header named "…CRC…" spoils the last chunk's CRC32C. */
    private static Arguments raw(String name, Status.Code code, String reason, Experience x,
            UnaryOperator<ExperienceHeader.Builder> change, boolean garbage) {
        MemorySegment payload = bytes(ExperienceFormat.encode(x, ACTIONS));
        if (garbage) {
            byte[] noise = new byte[(int) payload.byteSize()];
            new java.util.Random(7).nextBytes(noise);
            payload = MemorySegment.ofArray(noise);
        }
        ExperienceHeader h = change.apply(header(UUID.randomUUID().toString(), x).toBuilder()
                .setPayloadBytes(payload.byteSize())).build();
        return Arguments.of(new Malformed(name, code, reason, h, payload, name.contains("CRC")));
    }

    static ExperienceHeader header(String id, Experience x) {
        return ExperienceHeader.newBuilder().setItemId(id).setActorId("actor").setEnvId(LearnerFixture.ENV)
                .setSteps(x.steps()).setEnvs(x.envs()).setMinPolicyVersion(x.minPolicyVersion())
                .setMaxPolicyVersion(x.maxPolicyVersion()).build();
    }

    static MemorySegment bytes(TensorMap m) {
        return Safetensors.encode(m, Map.of(), Arena.ofAuto());
    }

    private static float[] filled(int n, int at, float v) {
        float[] out = new float[n];
        out[at] = v;
        return out;
    }

    private static Tensor floats(int t, int e, int at, float v, float rest) {
        float[] out = new float[t * e];
        java.util.Arrays.fill(out, rest);
        out[at] = v;
        return Tensor.ofFloats(new long[] {t, e}, out);
    }

    private static Tensor longs(int t, int e, int at, long v) {
        return longs(t, e, at, v, 0);
    }

    private static Tensor longs(int t, int e, int at, long v, long rest) {
        Tensor out = Tensor.allocate(DType.I64, new long[] {t, e}, Arena.ofAuto());
        for (int i = 0; i < t * e; i++) {
            out.data().setAtIndex(Tensor.I64_LE, i, i == at ? v : rest);
        }
        return out;
    }

    private static Tensor flag(int t, int e, int at, byte v) {
        Tensor out = Tensor.allocate(DType.U8, new long[] {t, e}, Arena.ofAuto());
        out.data().set(ValueLayout.JAVA_BYTE, at, v);
        return out;
    }

    private static TensorMap without(TensorMap m, String name) {
        TensorMap out = new TensorMap();
        m.asMap().forEach((n, t) -> {
            if (!n.equals(name)) {
                out.put(n, t);
            }
        });
        return out;
    }

    private static RegisterActorRequest register(String env, SpaceSpec actions) {
        return RegisterActorRequest.newBuilder().setName("test").setEnvId(env).setEnvs(2)
                .setObservationSpace(SpaceMessages.toMessage(ClassicControl.cartPole().observationSpace()))
                .setActionSpace(actions).build();
    }

    private LearnerGrpc.LearnerBlockingStub raw(String token) {
        return LearnerGrpc.newBlockingStub(fixture.channel).withInterceptors(auth(token));
    }

    private static io.grpc.ClientInterceptor auth(String token) {
        Metadata md = new Metadata();
        md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        return MetadataUtils.newAttachHeadersInterceptor(md);
    }

    /** Sends {@code m} part by part in chunks of 1000 bytes, exactly as given. */
    private ExperienceAck rawPush(Malformed m) {
        List<ExperiencePart> parts = new ArrayList<>();
        parts.add(ExperiencePart.newBuilder().setHeader(m.header()).build());
        long size = m.payload().byteSize();
        for (long at = 0; at < size; at += 1000) {
            MemorySegment slice = m.payload().asSlice(at, Math.min(1000, size - at));
            int crc = ModelImage.crc32c(slice) ^ (m.badCrc() && at + 1000 >= size ? 1 : 0);
            parts.add(ExperiencePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                    .setData(ByteString.copyFrom(slice.toArray(ValueLayout.JAVA_BYTE))).setCrc32C(crc)).build());
        }
        return client.send(m.reshape().apply(parts));
    }
}
