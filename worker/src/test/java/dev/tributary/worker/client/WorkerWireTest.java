package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker loop with a codec and error feedback: the residual survives pushes and is reset on a refusal. */
class WorkerWireTest {
    @TempDir
    Path dir;

    Server server;
    ManagedChannel channel;

    static TensorMap model() {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {8, 8}, new float[64]));
    }

    final LocalTrainer trainer = new LocalTrainer() {
        final Random r = new Random(3);

        @Override
        public TrainResult train(TensorMap weights, TrainPlan plan) {
            float[] d = new float[64];
            for (int i = 0; i < d.length; i++) {
                d[i] = (float) r.nextGaussian() * 0.01f;
            }
            return new TrainResult(new TensorMap().put("w", Tensor.ofFloats(new long[] {8, 8}, d)), 8, 1, Map.of());
        }
    };

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    @Test
    void theResidualIsCarriedAcrossAcknowledgedPushesAndResetWhenOneIsRefused() throws Exception {
        FakeCoordinator fake = new FakeCoordinator(model(), dir);
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(fake).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
        fake.answers.add(Status.FAILED_PRECONDITION.withDescription("staleness 9 > max_staleness 4").asRuntimeException());
        List<String> log = new ArrayList<>();
        WorkerOptions o = new WorkerOptions("n1", WorkerOptions.of("n1", TrainPlan.steps(1, 0), 0, null, dir).capabilities(),
                TrainPlan.steps(1, 0), 4, null, dir.resolve("work"), Duration.ofMillis(1), Duration.ofMillis(5), 1,
                new WireOptions(Codec.parse("int4:group=16"), true, 4, true));
        try (Worker w = new Worker(channel, "tok", trainer, o, log::add)) {
            Worker.Summary s = w.run();
            assertEquals(4, s.acknowledged());
            assertEquals(1, s.refused());
        }
        // The first push was refused: its residual (one step) is dropped with one line; the four acknowledged
        // pushes after it, all from the same base v3, carry theirs.
        List<String> resets = log.stream().filter(l -> l.contains("reset")).toList();
        assertEquals(1, resets.size(), log.toString());
        assertTrue(resets.getFirst().startsWith("error feedback EF around int4:group=16 reset (update refused: "
                + "FAILED_PRECONDITION: staleness 9 > max_staleness 4): dropped a residual of L2 norm "), resets.getFirst());
        assertTrue(resets.getFirst().endsWith("over 1 tensors after 1 steps"), resets.getFirst());
        assertEquals(5, fake.pushes.size());
    }
}
