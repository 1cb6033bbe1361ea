package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.synthetic.SyntheticLogReg;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.client.CoordinatorClient;
import dev.tributary.worker.client.WireOptions;
import dev.tributary.worker.client.Worker;
import dev.tributary.worker.client.WorkerOptions;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shipped worker and client against a real in-process coordinator, with codecs both ways. */
class WireEndToEndTest {
    static final String TOKEN = "wire-fixture-token";

    @TempDir
    Path dir;

    @Test
    void aWorkerPushingInt8WithErrorFeedbackIsTakenInAndPullsOnlyWhatChanged() throws Exception {
        String name = InProcessServerBuilder.generateName();
        SyntheticLogReg task = new SyntheticLogReg();
        CoordinatorConfig config = CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 0.5));
        List<String> log = new ArrayList<>();
        try (Coordinator coordinator = Coordinator.start(InProcessServerBuilder.forName(name), dir.resolve("state"),
                task.initialModel(0), config, Tokens.of(List.of(TOKEN)), m -> { })) {
            ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
            try {
                WorkerOptions o = WorkerOptions.of("w0", TrainPlan.steps(5, 0), 6, null, dir.resolve("w0"))
                        .withWire(new WireOptions(Codec.parse("int8:group=8"), true, 4, true));
                try (Worker w = new Worker(channel, TOKEN, task.trainer(0, 1, 0), o, log::add)) {
                    assertEquals(6, w.run().acknowledged());
                }
                assertEquals(6, coordinator.version());
                assertEquals(0, coordinator.refused());
                double wire = coordinator.metrics().wireBytes("int8");
                double decoded = coordinator.metrics().decodedBytes("int8");
                assertTrue(wire > 0 && wire < decoded, wire + " bytes on the wire for " + decoded + " decoded");
                assertEquals(0, coordinator.metrics().wireBytes("safetensors"), 0.0);
                // The first pull takes the whole model, every later one a version delta from the version held.
                assertEquals(1, coordinator.metrics().pulls("full"));
                assertEquals(5, coordinator.metrics().pulls("delta"), coordinator.metrics().scrape());
                assertTrue(log.stream().noneMatch(l -> l.contains("reset") || l.contains("whole model")), log.toString());
            } finally {
                channel.shutdownNow();
            }
        }
    }

    /**
     * A worker pulling int8 trains from the decoded model: the weights its trainer is handed are the
     * decoding of the version, not the version, and every accepted update is counted as trained from a
     * lossy base. A coordinator that does not accept the codec answers f32 and the worker trains from that.
     */
    @Test
    void aWorkerPullingInt8TrainsFromTheDecodedModel() throws Exception {
        for (boolean accepted : new boolean[] {true, false}) {
            String name = InProcessServerBuilder.generateName();
            SyntheticLogReg task = new SyntheticLogReg();
            CoordinatorConfig config = CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 0.5));
            if (!accepted) {
                config = config.withWire(config.wire().withCodecs(java.util.Set.of("bf16")));
            }
            List<String> log = new ArrayList<>();
            List<TensorMap> given = new ArrayList<>();
            dev.tributary.worker.LocalTrainer inner = task.trainer(0, 1, 0);
            dev.tributary.worker.LocalTrainer recording = (weights, plan) -> {
                TensorMap copy = new TensorMap();
                weights.asMap().forEach((n, t) -> copy.put(n, t.toF32(java.lang.foreign.Arena.ofAuto())));
                given.add(copy);
                return inner.train(weights, plan);
            };
            Path state = dir.resolve("state-" + accepted);
            try (Coordinator coordinator = Coordinator.start(InProcessServerBuilder.forName(name), state,
                    task.initialModel(0), config, Tokens.of(List.of(TOKEN)), m -> { })) {
                ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
                try {
                    WorkerOptions o = WorkerOptions.of("w0", TrainPlan.steps(5, 0), 1, null, dir.resolve("w-" + accepted))
                            .withWire(WireOptions.DEFAULTS.withPullCodec(Codec.parse("int8:group=8")));
                    try (Worker w = new Worker(channel, TOKEN, recording, o, log::add)) {
                        assertEquals(1, w.run().acknowledged());
                    }
                    TensorMap exact = task.initialModel(0);
                    Codec int8 = Codec.parse("int8:group=8");
                    TensorMap decoded = int8.decode(int8.encode(exact), exact.infos(),
                            dev.tributary.codec.DecodeLimits.forLayout(exact.infos()));
                    TensorMap expected = accepted ? decoded : exact;
                    for (String n : exact.names()) {
                        assertTrue(expected.tensor(n).contentEquals(given.getFirst().tensor(n)), accepted + ": " + n);
                    }
                    assertFalse(decoded.tensor("linear.weight").contentEquals(exact.tensor("linear.weight")), "int8 is lossy on this model");
                    assertEquals(accepted ? 1 : 0, coordinator.metrics().pulls("lossy"));
                    assertEquals(accepted ? 1 : 0, coordinator.metrics().lossyBases());
                    assertEquals(accepted ? 0 : 1, coordinator.metrics().pulls("full"));
                    assertTrue(log.stream().noneMatch(l -> l.contains("whole model")), log.toString());
                } finally {
                    channel.shutdownNow();
                }
            }
        }
    }

    @Test
    void aHeldModelThatIsNotTheVersionItClaimsFallsBackToAWholePull() throws Exception {
        String name = InProcessServerBuilder.generateName();
        TensorMap init = new TensorMap().put("w", Tensor.ofFloats(new long[] {64, 64}, new float[64 * 64]));
        CoordinatorConfig config = CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 0.5));
        try (Coordinator coordinator = Coordinator.start(InProcessServerBuilder.forName(name), dir.resolve("state"), init,
                config, Tokens.of(List.of(TOKEN)), m -> { })) {
            ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
            try {
                CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
                CoordinatorClient.Pulled v0 = client.pull("w", -1, dir.resolve("a"));
                float[] d = new float[64 * 64];
                d[17] = 0.25f;
                Path delta = dir.resolve("delta.safetensors");
                Safetensors.write(delta, new TensorMap().put("w", Tensor.ofFloats(new long[] {64, 64}, d)));
                client.push(new CoordinatorClient.Update(UUID.randomUUID().toString(), "w", 0, 1, 1, Map.of(), delta));

                // An honest base: a small delta, rebuilt and verified.
                try (SafetensorsFile held = SafetensorsFile.open(v0.file())) {
                    CoordinatorClient.Pulled p = client.pull("w", 0, dir.resolve("b"), held);
                    assertTrue(p.delta());
                    assertNull(p.fallback());
                    assertTrue(p.wireBytes() * 20 < p.bytes(), p.wireBytes() + " of " + p.bytes());
                    assertEquals(0.125f, SafetensorsFile.open(p.file()).tensor("w").getFloat(17));
                }
                // The held bytes damaged: the rebuilt model's SHA-256 is not the published one, so the whole model comes.
                Path copy = dir.resolve("corrupt.safetensors");
                Files.copy(v0.file(), copy);
                try (RandomAccessFile f = new RandomAccessFile(copy.toFile(), "rw")) {
                    f.seek(f.length() - 4 * 100);
                    f.write(new byte[] {0x3f});
                }
                try (SafetensorsFile held = SafetensorsFile.open(copy)) {
                    CoordinatorClient.Pulled p = client.pull("w", 0, dir.resolve("c"), held);
                    assertFalse(p.delta());
                    assertNotNull(p.fallback());
                    assertTrue(p.fallback().contains("SHA-256"), p.fallback());
                    assertEquals(p.bytes(), Files.size(p.file()));
                    assertEquals(client.pull("w", -1, dir.resolve("d")).sha256(), p.sha256());
                    assertEquals(0.125f, SafetensorsFile.open(p.file()).tensor("w").getFloat(17));
                    assertEquals(0f, SafetensorsFile.open(p.file()).tensor("w").getFloat(64 * 64 - 100));
                }
                // Both held versions were answered with a delta; the damaged one was then answered in full.
                assertEquals(2, coordinator.metrics().pulls("delta"));
                assertEquals(3, coordinator.metrics().pulls("full"));
            } finally {
                channel.shutdownNow();
            }
        }
    }
}
