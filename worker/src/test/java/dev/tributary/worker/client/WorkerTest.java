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
        assertTrue(logged.getFirst().startsWith("coordinator " + channel.authority()
                + " busy (UNAVAILABLE: receive memory: busy, retry later); retrying in "), logged.getFirst());
    }

    @Test
    void printsALinePerAnsweredPushAndASummaryOfEverything() throws Exception {
        Metadata reason = new Metadata();
        reason.put(Worker.REASON, "shape");
        fake.answers.add(Status.INVALID_ARGUMENT.withDescription("tensor w: shape [2,3] != [3,2]").asRuntimeException(reason));
        fake.answers.add(Status.UNAVAILABLE.withDescription("stopping").asRuntimeException());
        fake.answers.add(Status.FAILED_PRECONDITION.withDescription("staleness 9 > max 8").asRuntimeException());
        List<Progress.Pushed> pushed = new ArrayList<>();
        Progress.Totals t;
        String summary;
        try (Worker w = new Worker(channel, "tok", trainer, options(2), logged::add)) {
            w.onPushed(pushed::add);
            w.run();
            t = w.progress().totals();
            summary = w.progress().summary();
        }
        assertEquals(4, pushed.size(), pushed.toString());
        long bytes = pushed.getFirst().bytes();
        assertTrue(bytes > 6 * 4, "a safetensors delta of 9 floats: " + bytes);
        assertTrue(Progress.line(pushed.get(0)).matches("update 1: from version 3, loss 0\\.2500, 8 examples, " + bytes
                + " B pushed, refused \\(shape: INVALID_ARGUMENT: tensor w: shape \\[2,3\\] != \\[3,2\\]\\), \\d+\\.\\d\\d s"),
                Progress.line(pushed.get(0)));
        assertTrue(Progress.line(pushed.get(1)).startsWith("update 2: from version 3, loss 0.2500, 8 examples, " + bytes
                + " B pushed, refused (failed_precondition: FAILED_PRECONDITION: staleness 9 > max 8), "), Progress.line(pushed.get(1)));
        assertTrue(Progress.line(pushed.get(2)).startsWith("update 3: from version 3, loss 0.2500, 8 examples, " + bytes
                + " B pushed, accepted at version 3 (staleness 0), "), Progress.line(pushed.get(2)));
        assertEquals(4, t.pushed());
        assertEquals(2, t.accepted());
        assertEquals(Map.of("shape", 1, "failed_precondition", 1), t.refusedByReason());
        assertEquals(1, t.retries());
        assertEquals(16, t.examples());
        assertEquals(4 * bytes, t.bytesUp());
        assertTrue(t.bytesDown() > 0 && t.bytesDown() % 1 == 0, "pulled the model: " + t.bytesDown());
        assertEquals(0.25, t.meanLoss(), 1e-12);
        String[] lines = summary.split("\n");
        assertEquals("4 updates pushed: 2 accepted (0 duplicates), 2 refused (failed_precondition 1, shape 1), 1 retries", lines[0]);
        assertTrue(lines[1].matches("16 examples, " + Progress.bytes(4 * bytes).replace(".", "\\.") + " up, "
                + Progress.bytes(t.bytesDown()).replace(".", "\\.") + " down, mean loss 0\\.2500, \\d+\\.\\d s"), lines[1]);
    }

    @Test
    void bytesAreShownInBinaryUnitsWithThreeFigures() {
        assertEquals("512 B", Progress.bytes(512));
        assertEquals("1.50 KiB", Progress.bytes(1536));
        assertEquals("12.3 KiB", Progress.bytes(12_600));
        assertEquals("100 MiB", Progress.bytes(100L << 20));
    }

    @Test
    void givesUpNamingTheAddressWhenTheCoordinatorNeverAnswers() throws Exception {
        ManagedChannel nowhere = InProcessChannelBuilder.forName("nothing-listens-here").build();
        long t0 = System.nanoTime();
        try (Worker w = new Worker(nowhere, "tok", trainer, options(1), logged::add)) {
            w.giveUpAfter(Duration.ofMillis(300));
            UnreachableException e = assertThrows(UnreachableException.class, w::run);
            long millis = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(millis >= 300 && millis < 5_000, millis + " ms");
            assertEquals(nowhere.authority(), e.target());
            assertTrue(e.getMessage().startsWith("coordinator " + nowhere.authority() + ": no answer for "), e.getMessage());
            assertTrue(e.getMessage().endsWith("; gave up"), e.getMessage());
            assertTrue(w.progress().totals().retries() >= 1);
        } finally {
            nowhere.shutdownNow();
        }
        assertTrue(logged.getFirst().startsWith("coordinator " + nowhere.authority() + " unavailable ("), logged.getFirst());
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
