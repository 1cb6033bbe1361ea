package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.synthetic.SyntheticLogReg;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.client.CoordinatorClient;
import dev.tributary.worker.client.WireOptions;
import dev.tributary.worker.client.Worker;
import dev.tributary.worker.client.WorkerOptions;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped worker with EF21 and with lossy pulls against a real coordinator that restarts under it: the
 * worker's estimate is refused once and rebuilt from 0, a lossy base the restarted coordinator cannot check
 * is refused once and followed by one whole f32 pull, and every acknowledged update is in the model once.
 */
class Ef21WireTest {
    static final String TOKEN = "wire-fixture-token";

    @TempDir
    Path dir;

    final SyntheticLogReg task = new SyntheticLogReg();
    final String name = InProcessServerBuilder.generateName();
    Coordinator coordinator;

    void start(CoordinatorConfig config) throws IOException {
        coordinator = Coordinator.start(InProcessServerBuilder.forName(name), dir.resolve("state"), task.initialModel(0),
                config, Tokens.of(List.of(TOKEN)), m -> { });
    }

    void restart(CoordinatorConfig config) {
        try {
            coordinator.close();
            start(config);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static CoordinatorConfig fedasync() {
        return CoordinatorConfig.defaults("fedasync").withStrategyConfig(Map.of("alpha", 0.5, "max_staleness", 8));
    }

    @Test
    void aCoordinatorRestartCostsOneEstimateResetAndNoUpdate() throws Exception {
        start(fedasync());
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
        try {
            WorkerOptions o = WorkerOptions.of("w0", TrainPlan.steps(5, 0), 6, null, dir.resolve("w0"))
                    .withWire(new WireOptions(Codec.parse("int4:group=16"), true, 4, true).withEf21());
            try (Worker w = new Worker(channel, TOKEN, task.trainer(0, 1, 0), o, log::add)) {
                int[] acked = {0};
                w.onPushed(p -> {
                    if (p.refusal() == null && ++acked[0] == 3) {
                        restart(fedasync()); // on the worker's thread, between its third and fourth push
                    }
                });
                Worker.Summary s = w.run();
                assertEquals(6, s.acknowledged());
                assertEquals(0, s.refused(), "the refused estimate cost no update");
            }
            assertEquals(6, coordinator.version(), "three updates replayed, three taken in after the restart");
            assertEquals(6, coordinator.accepted());
            assertEquals(1, coordinator.metrics().refusedCount("ef21_estimate"));
            List<String> resets = log.stream().filter(l -> l.contains("reset")).toList();
            assertEquals(1, resets.size(), log.toString());
            assertTrue(resets.getFirst().contains("EF21") && resets.getFirst().contains("another estimate")
                    && resets.getFirst().contains("from h = 0"), resets.getFirst());
        } finally {
            channel.shutdownNow();
            coordinator.close();
        }
    }

    @Test
    void aLossyBaseTheRestartedCoordinatorCannotCheckIsRefusedOnceThenOneWholePull() throws Exception {
        CoordinatorConfig config = fedasync();
        CoordinatorConfig noPast = config.withWire(config.wire().withPullDeltas(0, 0));
        start(noPast);
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        ManagedChannel channel = InProcessChannelBuilder.forName(name).build();
        LocalTrainer inner = task.trainer(0, 1, 0);
        int[] calls = {0};
        LocalTrainer restarting = (weights, plan) -> {
            if (++calls[0] == 2) {
                // Between the second lossy pull and its push: the coordinator restarts and moves on a version, so
                // the pull's version is neither held nor its coding remembered.
                restart(noPast);
                try {
                    Path delta = dir.resolve("other.safetensors");
                    TensorMap zero = new TensorMap();
                    weights.asMap().forEach((n, t) -> zero.put(n, dev.tributary.tensor.Tensor.allocate(
                            dev.tributary.tensor.DType.F32, t.shape(), java.lang.foreign.Arena.ofAuto())));
                    Safetensors.write(delta, zero);
                    new CoordinatorClient(channel, TOKEN).push(new CoordinatorClient.Update(UUID.randomUUID().toString(),
                            "other", coordinator.version(), 1, 1, Map.of(), delta));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            return inner.train(weights, plan);
        };
        try {
            WorkerOptions o = WorkerOptions.of("w0", TrainPlan.steps(5, 0), 4, null, dir.resolve("w0"))
                    .withWire(WireOptions.DEFAULTS.withPullCodec(Codec.parse("int8:group=8")));
            try (Worker w = new Worker(channel, TOKEN, restarting, o, log::add)) {
                Worker.Summary s = w.run();
                assertEquals(4, s.acknowledged());
                assertEquals(1, s.refused());
            }
            assertEquals(1, coordinator.metrics().refusedCount("lossy_base"));
            assertEquals(1, coordinator.metrics().pulls("full"), "one whole f32 pull after the refusal");
            assertEquals(2, coordinator.metrics().lossyBases(), "lossy pulls again after it: "
                    + coordinator.metrics().scrape());
            assertEquals(1, log.stream().filter(l -> l.contains("pulling the whole f32 model once")).count(), log.toString());
            // One update before the restart, the other client's, then three from the worker.
            assertEquals(5, coordinator.version());
        } finally {
            channel.shutdownNow();
            coordinator.close();
        }
    }
}
