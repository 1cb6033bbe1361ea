package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.protocol.Capabilities;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import dev.tributary.worker.client.CoordinatorClient;
import dev.tributary.worker.diloco.NoLoCoWorker;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * NoLoCo with a model far past the message limit, over real sockets: a coordinator started with strategy
 * noloco (PeerRelay on its Netty port, 8 MiB messages) and two workers whose outer states are
 * {@code -Dtributary.noloco.mib} MiB per image (default 128: 256 MiB up and down per exchange). Each
 * worker's outer step is checked against the formula at the first and last element. Long: run with
 * {@code -Dtributary.long=true}; it prints the time of each exchange (BENCHMARKS.md).
 */
class NoLoCoLargeStateTest {
    static final String TOKEN = "large-state-token";

    @TempDir
    Path state;

    @Test
    @EnabledIfSystemProperty(named = "tributary.long", matches = "true")
    void statesOfHundredsOfMiBExchangeThroughServe() throws Exception {
        int mib = Integer.getInteger("tributary.noloco.mib", 128);
        int n = mib << 18; // floats
        float[] ones = new float[n];
        Arrays.fill(ones, 1f);
        TensorMap model = new TensorMap().put("w", Tensor.ofFloats(new long[] {n}, ones));
        // H 2 SGD steps at lr 0.5 on a gradient of 2: δ = 2 every round; α 0.3, β 0.7, γ 0.7 (the defaults).
        CoordinatorConfig config = CoordinatorConfig.defaults("noloco").withStrategyConfig(Map.of("inner_steps", 2,
                "inner_optimizer", Map.of("name", "sgd", "lr", 0.5)));
        try (Coordinator c = Coordinator.start(Coordinator.netty(new InetSocketAddress("127.0.0.1", 0),
                InsecureServerCredentials.create()), state, model, config, Tokens.of(List.of(TOKEN)), m -> { })) {
            ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:" + c.port()).usePlaintext()
                    .maxInboundMessageSize(8 << 20).flowControlWindow(16 << 20).build();
            try {
                CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
                String a = client.register("a", Capabilities.getDefaultInstance()).getWorkerId();
                String b = client.register("b", Capabilities.getDefaultInstance()).getWorkerId();
                Thread heartbeat = Thread.ofVirtual().start(() -> {
                    while (!Thread.currentThread().isInterrupted()) {
                        try {
                            Thread.sleep(2000);
                            client.heartbeat(a);
                            client.heartbeat(b);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                });
                try (NoLoCoWorker wa = new NoLoCoWorker(a, channel, TOKEN, new Descent(), model, 1);
                        NoLoCoWorker wb = new NoLoCoWorker(b, channel, TOKEN, new Descent(), model, 2)) {
                    long t0 = System.nanoTime();
                    NoLoCoWorker.Exchanged first = wa.round();
                    long t1 = System.nanoTime();
                    NoLoCoWorker.Exchanged second = wb.round();
                    long t2 = System.nanoTime();
                    assertFalse(first.header().getPaired());
                    assertTrue(second.header().getPaired());
                    assertEquals(first.outerSha256(), second.peerOuterSha256(), "b stepped with exactly what a sent");
                    assertEquals(2L * (n * 4L + 0) , second.bytesDown(), 2L * 1024, "both images came down");
                    // A alone: Δ = −0.7·2 = −1.4, φ = −0.4. B with A's (φ 1, δ 2): the same.
                    for (NoLoCoWorker w : List.of(wa, wb)) {
                        Tensor phi = w.loop().outer().tensor("w");
                        assertEquals(-0.4f, phi.getFloat(0), 1e-6);
                        assertEquals(-0.4f, phi.getFloat(n - 1), 1e-6);
                    }
                    assertEquals(2, c.relay().held());
                    System.out.printf("NoLoCoLargeStateTest: %d MiB per image: unpaired exchange %.2f s (%d MiB up), "
                            + "paired %.2f s (%d MiB up, %d MiB down), H 2 inner steps included%n", mib, (t1 - t0) / 1e9,
                            first.bytesUp() >> 20, (t2 - t1) / 1e9, second.bytesUp() >> 20, second.bytesDown() >> 20);
                }
                heartbeat.interrupt();
            } finally {
                channel.shutdownNow();
            }
        }
    }

    /** Plain SGD on a constant gradient of 2 over every weight, one example per step. */
    static final class Descent implements LocalTrainer {
        @Override
        public TrainResult train(TensorMap weights, TrainPlan plan) {
            throw new UnsupportedOperationException("replicas only");
        }

        @Override
        public Replica open(TensorMap weights, InnerOptimizer optimizer, long seed) {
            float[] w = weights.tensor("w").toFloatArray();
            long[] shape = weights.tensor("w").shape();
            float lr = (float) optimizer.lr();
            return new Replica() {
                @Override
                public TrainResult train(int steps) {
                    for (int s = 0; s < steps; s++) {
                        for (int i = 0; i < w.length; i++) {
                            w[i] -= lr * 2;
                        }
                    }
                    return new TrainResult(new TensorMap(), steps, steps, Map.of("loss", 1.0));
                }

                @Override
                public TensorMap weights(List<String> names) {
                    return new TensorMap().put("w", Tensor.ofFloats(shape, w.clone()));
                }

                @Override
                public void assign(TensorMap tensors) {
                    float[] v = tensors.tensor("w").toFloatArray();
                    System.arraycopy(v, 0, w, 0, w.length);
                }

                @Override
                public void close() {}
            };
        }
    }
}
