package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.worker.client.WireOptions;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.client.CoordinatorClient;
import dev.tributary.worker.client.Worker;
import dev.tributary.worker.client.WorkerOptions;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * torchft's Streaming DiLoCo regression through the shipped worker: two {@link Worker}s with the
 * constant-gradient trainer against a real in-process coordinator running diloco; the inner loop (H,
 * fragments, α, delay, inner optimizer) comes from the registration reply.
 */
class DiLoCoWorkerTest {
    static final String TOKEN = "diloco-fixture-token";

    @TempDir
    Path dir;

    /**
     * The global f0 and f1 after {@code rounds} rounds, what the first replica was assigned at its merges,
     * and the workers' pulls answered with one fragment and with the whole model.
     */
    record Outcome(float f0, float f1, List<Map<String, Float>> assigned, long fragmentPulls, long fullPulls) {}

    Outcome run(double alpha, int delay, int rounds) throws Exception {
        return run(alpha, delay, rounds, WireOptions.DEFAULTS, null);
    }

    /** {@code codecFamily}: when set, checks that every push came through that codec. */
    Outcome run(double alpha, int delay, int rounds, WireOptions wire, String codecFamily) throws Exception {
        String name = InProcessServerBuilder.generateName();
        CoordinatorConfig config = CoordinatorConfig.defaults("diloco")
                .withStrategyConfig(ConstantGradient.strategy(alpha, delay));
        ConstantGradient trainer = new ConstantGradient();
        Path state = dir.resolve("state-" + alpha + "-" + delay + (codecFamily == null ? "" : "-" + codecFamily));
        try (Coordinator coordinator = Coordinator.start(InProcessServerBuilder.forName(name), state,
                ConstantGradient.model(), config, Tokens.of(List.of(TOKEN)), m -> { })) {
            ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                List<Future<Worker.Summary>> runs = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    WorkerOptions d = WorkerOptions.of("w" + i, TrainPlan.steps(1, 0), rounds, null, state.resolve("w" + i));
                    WorkerOptions o = new WorkerOptions(d.name(), d.capabilities(), d.plan(), rounds, null, d.workDir(),
                            Duration.ofMillis(5), Duration.ofMillis(50), i, wire);
                    runs.add(threads.submit(() -> {
                        try (Worker w = new Worker(channel, TOKEN, trainer, o, m -> { })) {
                            return w.run();
                        }
                    }));
                }
                for (Future<Worker.Summary> f : runs) {
                    assertEquals(rounds, f.get().acknowledged());
                }
                assertEquals(rounds, coordinator.version());
                assertEquals(0, coordinator.refused());
                if (codecFamily != null) {
                    assertTrue(coordinator.metrics().wireBytes(codecFamily) > 0, coordinator.metrics().scrape());
                    assertEquals(0, coordinator.metrics().wireBytes("safetensors"), 0.0);
                }
                long fragmentPulls = coordinator.metrics().pulls("fragment");
                long fullPulls = coordinator.metrics().pulls("full");
                CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
                CoordinatorClient.Pulled p = client.pull("reader", -1, dir.resolve("pulled"));
                try (SafetensorsFile model = SafetensorsFile.open(p.file())) {
                    return new Outcome(model.tensor("f0").getFloat(0), model.tensor("f1").getFloat(0),
                            List.copyOf(trainer.assigned.getFirst()), fragmentPulls, fullPulls);
                }
            } finally {
                threads.shutdownNow();
                channel.shutdownNow();
            }
        }
    }

    @Test
    void alpha0() throws Exception {
        Outcome o = run(0, 0, 4);
        // Each fragment's pseudo-gradient covers all 6 steps since its last sync: −11, −23, −35, −47.
        assertEquals(List.of(Map.of("f0", -11f), Map.of("f1", -23f), Map.of("f0", -35f)), o.assigned());
        assertEquals(-35f, o.f0());
        assertEquals(-47f, o.f1());
        // Each worker pulls the whole model once; after each later publish only the fragment it pushed.
        assertEquals(2, o.fullPulls());
        assertEquals(2 * 3, o.fragmentPulls());
    }

    @Test
    void alphaHalfAndOne() throws Exception {
        Outcome half = run(0.5, 0, 3);
        assertEquals(Map.of("f0", -8f), half.assigned().getFirst());
        assertEquals(-29f, half.f0());
        Outcome one = run(1, 0, 3);
        assertEquals(Map.of("f0", -5f), one.assigned().getFirst());
        assertEquals(-23f, one.f0());
    }

    @Test
    void fragmentsPushedThroughACodecWithErrorFeedbackGiveTheSameRounds() throws Exception {
        // bf16 holds these small integers exactly, so the residual stays zero and the rounds must match
        // alpha0 step for step: each fragment is decoded against its own layout, per fragment.
        Outcome o = run(0, 0, 4, new WireOptions(Codec.parse("bf16"), true, 4, true), "bf16");
        assertEquals(List.of(Map.of("f0", -11f), Map.of("f1", -23f), Map.of("f0", -35f)), o.assigned());
        assertEquals(-35f, o.f0());
        assertEquals(-47f, o.f1());
        Outcome lossless = run(0.5, 0, 3, new WireOptions(Codec.parse("lossless"), false, 4, true), "lossless");
        assertEquals(-29f, lossless.f0());
    }

    @Test
    void delayOne() throws Exception {
        Outcome o = run(0, 1, 2);
        assertEquals(Map.of("f0", -7f), o.assigned().getFirst());
    }

    /** The fixture's dynamics over tensors of any size: every element's gradient is 2, plain SGD at the inner lr. */
    static final class VectorGradient implements dev.tributary.worker.LocalTrainer {
        @Override
        public dev.tributary.worker.TrainResult train(dev.tributary.tensor.TensorMap weights, TrainPlan plan) {
            throw new UnsupportedOperationException("inner loop only");
        }

        @Override
        public dev.tributary.worker.Replica open(dev.tributary.tensor.TensorMap weights,
                dev.tributary.worker.InnerOptimizer optimizer, long seed) {
            Map<String, float[]> w = new java.util.LinkedHashMap<>();
            Map<String, long[]> shapes = new java.util.HashMap<>();
            weights.names().forEach(n -> {
                w.put(n, weights.tensor(n).toFloatArray());
                shapes.put(n, weights.tensor(n).shape());
            });
            float lr = (float) optimizer.lr();
            return new dev.tributary.worker.Replica() {
                @Override
                public dev.tributary.worker.TrainResult train(int steps) {
                    for (float[] v : w.values()) {
                        for (int i = 0; i < v.length; i++) {
                            v[i] -= steps * lr * ConstantGradient.GRADIENT;
                        }
                    }
                    return new dev.tributary.worker.TrainResult(new dev.tributary.tensor.TensorMap(), steps, steps,
                            Map.of("loss", 0.0));
                }

                @Override
                public dev.tributary.tensor.TensorMap weights(List<String> names) {
                    dev.tributary.tensor.TensorMap out = new dev.tributary.tensor.TensorMap();
                    names.forEach(n -> out.put(n, dev.tributary.tensor.Tensor.ofFloats(shapes.get(n), w.get(n).clone())));
                    return out;
                }

                @Override
                public void assign(dev.tributary.tensor.TensorMap tensors) {
                    tensors.names().forEach(n -> System.arraycopy(tensors.tensor(n).toFloatArray(), 0, w.get(n), 0, w.get(n).length));
                }

                @Override
                public void close() {}
            };
        }
    }

    @Test
    void fragmentsCutInsideATensorFollowTheFixtureElementByElementThroughFragmentPulls() throws Exception {
        runCut(WireOptions.DEFAULTS, "safetensors");
        // bf16 holds these integers exactly: coded slices (1-D, decoded against the fragment's layout) give the same.
        runCut(new WireOptions(Codec.parse("bf16"), true, 4, true), "bf16");
    }

    private void runCut(WireOptions wire, String codecFamily) throws Exception {
        // f0 [3] and f1 [1] in two fragments of two elements: f0[0:2], then f0[2:3] with f1.
        dev.tributary.tensor.TensorMap model = new dev.tributary.tensor.TensorMap()
                .put("f0", dev.tributary.tensor.Tensor.ofFloats(new long[] {3}, 1, 1, 1))
                .put("f1", dev.tributary.tensor.Tensor.ofFloats(new long[] {1}, 1));
        String name = InProcessServerBuilder.generateName();
        CoordinatorConfig config = CoordinatorConfig.defaults("diloco").withStrategyConfig(ConstantGradient.strategy(0, 0));
        Path state = dir.resolve("state-cut-" + codecFamily);
        try (Coordinator coordinator = Coordinator.start(InProcessServerBuilder.forName(name), state, model, config,
                Tokens.of(List.of(TOKEN)), m -> { })) {
            ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
            ExecutorService threads = Executors.newFixedThreadPool(2);
            try {
                List<Future<Worker.Summary>> runs = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    WorkerOptions d = WorkerOptions.of("w" + i, TrainPlan.steps(1, 0), 4, null, state.resolve("w" + i));
                    WorkerOptions o = new WorkerOptions(d.name(), d.capabilities(), d.plan(), 4, null, d.workDir(),
                            Duration.ofMillis(5), Duration.ofMillis(50), i, wire);
                    runs.add(threads.submit(() -> {
                        try (Worker w = new Worker(channel, TOKEN, new VectorGradient(), o, m -> { })) {
                            return w.run();
                        }
                    }));
                }
                for (Future<Worker.Summary> f : runs) {
                    assertEquals(4, f.get().acknowledged());
                }
                assertEquals(0, coordinator.refused());
                assertTrue(coordinator.metrics().wireBytes(codecFamily) > 0, coordinator.metrics().scrape());
                assertEquals(2 * 3, coordinator.metrics().pulls("fragment"), "the worker's SHA-256 check passed each time");
                CoordinatorClient.Pulled p = new CoordinatorClient(channel, TOKEN).pull("reader", -1,
                        dir.resolve("pulled-cut-" + codecFamily));
                try (SafetensorsFile m = SafetensorsFile.open(p.file())) {
                    // Fragment 0's elements follow the fixture's f0 (−11, −35), fragment 1's its f1 (−23, −47).
                    assertEquals(List.of(-35f, -35f, -47f), List.of(m.tensor("f0").getFloat(0), m.tensor("f0").getFloat(1),
                            m.tensor("f0").getFloat(2)));
                    assertEquals(-47f, m.tensor("f1").getFloat(0));
                }
            } finally {
                threads.shutdownNow();
                channel.shutdownNow();
            }
        }
    }
}
