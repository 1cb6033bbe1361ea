package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerTest {
    @TempDir
    Path dir;

    FakeCoordinator fake;
    Server server;
    ManagedChannel channel;
    final List<String> logged = new ArrayList<>();
    final List<TensorMap> trainedOn = new ArrayList<>();

    static TensorMap model() {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {2, 3}, 1, 2, 3, 4, 5, 6))
                .put("b", Tensor.ofFloats(new long[] {3}, 0, 0, 1));
    }

    /** Adds 0.5 to every weight. */
    final LocalTrainer trainer = new LocalTrainer() {
        @Override
        public TrainResult train(TensorMap weights, TrainPlan plan) {
            TensorMap seen = new TensorMap();
            weights.asMap().forEach((n, t) -> seen.put(n, t.copy(java.lang.foreign.Arena.ofAuto())));
            trainedOn.add(seen);
            TensorMap delta = new TensorMap();
            for (String n : weights.names()) {
                float[] d = new float[(int) weights.tensor(n).numel()];
                java.util.Arrays.fill(d, 0.5f);
                delta.put(n, Tensor.ofFloats(weights.tensor(n).shape(), d));
            }
            return new TrainResult(delta, 8, plan.steps(), Map.of("loss", 0.25));
        }
    };

    @BeforeEach
    void start() throws IOException {
        fake = new FakeCoordinator(model(), dir);
        String name = InProcessServerBuilder.generateName();
        server = InProcessServerBuilder.forName(name).directExecutor().addService(fake).build().start();
        channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    }

    @AfterEach
    void stop() {
        channel.shutdownNow();
        server.shutdownNow();
    }

    WorkerOptions options(int updates) {
        return new WorkerOptions("n1", WorkerOptions.of("n1", TrainPlan.steps(3, 0), 0, null, dir).capabilities(),
                TrainPlan.steps(3, 0), updates, dir.resolve("acks.txt"), dir.resolve("work"), Duration.ofMillis(1),
                Duration.ofMillis(5), 1);
    }

    @Test
    void pushesTheRequestedNumberOfUpdatesAndLogsEachAcknowledgedId() throws Exception {
        try (Worker w = new Worker(channel, "tok", trainer, options(4), logged::add)) {
            Worker.Summary s = w.run();
            assertEquals(4, s.acknowledged());
            assertEquals(0, s.retries());
        }
        List<String> acks = Files.readAllLines(dir.resolve("acks.txt"));
        assertEquals(4, acks.size());
        assertEquals(new ArrayList<>(fake.applied), acks);
        assertTrue(model().tensor("w").contentEquals(trainedOn.getFirst().tensor("w")));
        try (var files = Files.list(dir.resolve("work"))) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith("delta-")));
        }
    }

    @Test
    void retriesTheSameIdWhenTheCoordinatorGoesAwaySoNothingIsAppliedTwice() throws Exception {
        fake.failBeforeStore.set(2);
        fake.failAfterStore.set(3);
        Worker.Summary s;
        try (Worker w = new Worker(channel, "tok", trainer, options(3), logged::add)) {
            s = w.run();
        }
        List<String> acks = Files.readAllLines(dir.resolve("acks.txt"));
        assertEquals(3, acks.size());
        assertEquals(3, new HashSet<>(acks).size());
        assertEquals(new ArrayList<>(fake.applied), acks);
        assertEquals(5, s.retries());
        assertTrue(s.duplicates() >= 1, s.toString());
        assertEquals(8, fake.pushes.size());
        assertTrue(fake.registrations.get() >= 2, "registers again after losing the coordinator");
        assertFalse(logged.isEmpty());
    }

    @Test
    void waitsOutABusyRefusalAndDropsAnUpdateRefusedForWhatItIs() throws Exception {
        Metadata pushback = new Metadata();
        pushback.put(Worker.RETRY_PUSHBACK_MS, "60");
        fake.answers.add(Status.UNAVAILABLE.withDescription("receive memory: busy, retry later").asRuntimeException(pushback));
        fake.answers.add(Status.RESOURCE_EXHAUSTED.withDescription("this token has 64 push streams open: retry later")
                .asRuntimeException(pushback));
        fake.answers.add(Status.INVALID_ARGUMENT.withDescription("tensor w: shape [2,3] != [3,2]").asRuntimeException());
        fake.answers.add(Status.FAILED_PRECONDITION.asRuntimeException());
        long t0 = System.nanoTime();
        Worker.Summary s;
        try (Worker w = new Worker(channel, "tok", trainer, options(2), logged::add)) {
            s = w.run();
        }
        long millis = (System.nanoTime() - t0) / 1_000_000;
        List<String> p = fake.pushes;
        assertEquals(6, p.size(), p.toString());
        assertEquals(p.get(0), p.get(1));
        assertEquals(p.get(0), p.get(2));
        assertNotEquals(p.get(2), p.get(3));
        assertNotEquals(p.get(3), p.get(4));
        assertNotEquals(p.get(4), p.get(5));
        assertEquals(new Worker.Summary(2, 0, 2, 2), s);
        assertTrue(millis >= 120, "waited " + millis + " ms, the pushback is 2 × 60 ms");
        assertEquals(1, fake.registrations.get(), "a busy coordinator is not registered with again");
        assertEquals(List.of("update " + p.get(0) + " refused, dropped: INVALID_ARGUMENT: tensor w: shape [2,3] != [3,2]",
                "update " + p.get(3) + " refused, dropped: FAILED_PRECONDITION"),
                logged.stream().filter(l -> l.contains("refused")).toList());
        assertTrue(logged.getFirst().startsWith("coordinator busy (UNAVAILABLE: receive memory: busy, retry later); retrying in "),
                logged.getFirst());
    }

    @Test
    void aModelWhoseShaDoesNotMatchIsRefusedAndLeavesNoFile() throws IOException {
        fake.corruptSha = true;
        CoordinatorClient c = new CoordinatorClient(channel, "tok");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> c.pull("w", -1, dir.resolve("m")));
        assertEquals(Status.Code.DATA_LOSS, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("SHA-256"), e.getStatus().getDescription());
        try (var files = Files.list(dir.resolve("m"))) {
            assertEquals(0, files.count());
        }
        fake.corruptSha = false;
        CoordinatorClient.Pulled p = c.pull("w", -1, dir.resolve("m"));
        assertEquals(3, p.version());
        assertTrue(c.pull("w", 3, dir.resolve("m")).unchanged());
    }

    @Test
    void backoffGrowsWithJitterUpToItsCap() {
        Backoff b = new Backoff(Duration.ofMillis(100), Duration.ofMillis(1000), new java.util.SplittableRandom(1));
        long[] caps = {100, 200, 400, 800, 1000, 1000};
        for (long cap : caps) {
            long ms = b.next().toMillis();
            assertTrue(ms >= cap / 2 && ms <= cap, ms + " not in [" + cap / 2 + ", " + cap + "]");
        }
        b.reset();
        assertTrue(b.next().toMillis() <= 100);
    }
}
