package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FedAvgStrategyTest {

    /** Flower's FedAvgM/FedAdam/FedYogi case: clients end at 1.0 (1 example) and 3.0 (2 examples). */
    private static double flowerRound(Strategy s) {
        double theta = value(s.model());
        s.onUpdate(update("a" + s.version(), s.version(), 1, scalar(1.0 - theta)));
        Decision d = s.onUpdate(update("b" + s.version(), s.version(), 2, scalar(3.0 - theta)));
        assertInstanceOf(Published.class, d);
        return value(s.model());
    }

    @Test
    void flowerAggregateOfEqualClientsGivesTheirArrays() {
        TensorMap zeros = new TensorMap().put("l0", Tensor.ofFloats(new long[] {2, 3}, new float[6]))
                .put("l1", Tensor.ofFloats(new long[] {4}, new float[4]));
        TensorMap arrays = new TensorMap().put("l0", Tensor.ofFloats(new long[] {2, 3}, 1, 2, 3, 4, 5, 6))
                .put("l1", Tensor.ofFloats(new long[] {4}, 7, 8, 9, 10));
        Strategy s = Strategies.create("fedavg", Map.of(), zeros);
        assertEquals(new Buffered(1, 2), s.onUpdate(update("c1", 0, 1, arrays)));
        assertEquals(new Published(1, List.of("c1", "c2"), Map.of()), s.onUpdate(update("c2", 0, 2, arrays)));
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, s.model().tensor("l0").toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {7, 8, 9, 10}, s.model().tensor("l1").toFloatArray(), 1e-6f);
        assertEquals(1, s.version());
    }

    @Test
    void publishedMetricsAreFlowerWeightedLossAverage() {
        Strategy s = Strategies.create("fedavg", Map.of("min_workers", 3), scalar(0));
        long[] examples = {1, 2, 1};
        double[] losses = {2.0, 1.0, 2.0};
        Decision d = null;
        for (int i = 0; i < 3; i++) {
            d = s.onUpdate(new Update("u" + i, 0, examples[i], 1, scalar(0), Map.of("loss", losses[i])));
        }
        assertEquals(1.5, ((Published) d).metrics().get("loss"), 1e-12);
    }

    @Test
    void weightedMeanUsesExamples() {
        Strategy s = Strategies.create("fedavg", Map.of(), scalar(1));
        s.onUpdate(update("a", 0, 1, scalar(1)));
        s.onUpdate(update("b", 0, 3, scalar(-1)));
        assertEquals(1 + (1 * 1.0 + 3 * -1.0) / 4, value(s.model()), 1e-6);
        Strategy uniform = Strategies.create("fedavg", Map.of("weighting", "uniform"), scalar(1));
        uniform.onUpdate(update("a", 0, 1, scalar(1)));
        uniform.onUpdate(update("b", 0, 3, scalar(-1)));
        assertEquals(1, value(uniform.model()), 1e-6);
    }

    @Test
    void fedAvgMMatchesFlowerOverTwoRounds() {
        Strategy s = Strategies.create("fedavg", Map.of("optimizer", Map.of("name", "momentum", "momentum", 0.9)),
                scalar(0));
        assertEquals(2.3333, flowerRound(s), 1e-4);
        assertEquals(4.4333, flowerRound(s), 1e-4);
        Strategy plain = Strategies.create("fedavg", Map.of(), scalar(0));
        assertEquals(7.0 / 3, flowerRound(plain), 1e-6);
    }

    @Test
    void fedAdamFedYogiAndFedAdagradMatchFlower() {
        assertEquals(0.0739291, flowerRound(Strategies.create("fedavg", Map.of("optimizer", "adam"), scalar(0))), 1e-6);
        assertEquals(0.0099573, flowerRound(Strategies.create("fedavg", Map.of("optimizer", "yogi"), scalar(0))), 1e-6);
        Strategy adagrad = Strategies.create("fedavg",
                Map.of("optimizer", Map.of("name", "adagrad", "lr", 0.1, "tau", 0.5)), scalar(0.1));
        adagrad.onUpdate(update("a", 0, 5, scalar(0.2 - 0.1)));
        adagrad.onUpdate(update("b", 0, 5, scalar(1.0 - 0.1)));
        assertEquals(0.15, value(adagrad.model()), 1e-6);
    }

    @Test
    void roundWaitsForTheExpectedShareOfWorkers() {
        Strategy s = Strategies.create("fedavg", Map.of("min_workers", 2, "workers", 10, "fraction", 0.3), scalar(0));
        assertEquals(new Buffered(1, 3), s.onUpdate(update("a", 0, 1, scalar(1))));
        assertEquals(new Buffered(2, 3), s.onUpdate(update("b", 0, 1, scalar(1))));
        assertInstanceOf(Published.class, s.onUpdate(update("c", 0, 1, scalar(1))));
    }

    @Test
    void refusesOlderRoundsFutureBasesDuplicatesAndTheStalenessBound() {
        Strategy s = Strategies.create("fedavg", Map.of(), scalar(0));
        s.onUpdate(update("a", 0, 1, scalar(1)));
        s.onUpdate(update("b", 0, 1, scalar(1)));
        assertEquals(new Refused("update late: base version 0 < round version 1", Refused.STALE_ROUND),
                s.onUpdate(update("late", 0, 1, scalar(1))));
        assertEquals(new Refused("update early: base version 2 > current version 1", Refused.FUTURE_VERSION),
                s.onUpdate(update("early", 2, 1, scalar(1))));
        assertEquals(new Buffered(1, 2), s.onUpdate(update("c", 1, 1, scalar(1))));
        assertEquals(new Refused("update c: already in round 1", Refused.DUPLICATE),
                s.onUpdate(update("c", 1, 1, scalar(1))));

        Strategy bounded = Strategies.create("fedavg", Map.of("max_staleness", 0), scalar(0));
        bounded.onUpdate(update("a", 0, 1, scalar(1)));
        bounded.onUpdate(update("b", 0, 1, scalar(1)));
        assertEquals(new Refused("staleness 1 > max 0", Refused.STALENESS), bounded.onUpdate(update("x", 0, 1, scalar(1))));
    }

    @Test
    void refusesDeltasThatDoNotFitTheModel() {
        Strategy s = Strategies.create("fedavg", Map.of(), scalar(0));
        TensorMap wrongShape = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, 2));
        assertEquals(new Refused("update x: tensor w: delta shape [2] != model shape [1]", Refused.INVALID),
                s.onUpdate(update("x", 0, 1, wrongShape)));
        TensorMap bf16 = new TensorMap().put("w", Tensor.ofFloats(DType.BF16, new long[] {1}, 1));
        assertEquals(new Refused("update y: tensor w: dtype BF16, strategies need F32", Refused.INVALID),
                s.onUpdate(update("y", 0, 1, bf16)));
        assertEquals(new Refused("update z: delta lacks tensor w", Refused.INVALID),
                s.onUpdate(update("z", 0, 1, new TensorMap())));
        assertEquals(new Refused("update n: examples 0, example-weighted aggregation needs >= 1", Refused.INVALID),
                s.onUpdate(update("n", 0, 0, scalar(1))));
        assertEquals(new Buffered(0, 2), s.onTick(0));
    }

    @Test
    void deadlineClosesARoundWithMinWorkers() {
        Strategy s = Strategies.create("fedavg",
                Map.of("min_workers", 2, "workers", 5, "round_deadline_s", 10), scalar(0));
        assertEquals(new Buffered(0, 5), s.onTick(1_000));
        s.onUpdate(update("a", 0, 1, scalar(2)));
        s.onUpdate(update("b", 0, 1, scalar(4)));
        assertEquals(new Buffered(2, 5), s.onTick(10_999));
        assertEquals(new Published(1, List.of("a", "b"), Map.of()), s.onTick(11_000));
        assertEquals(3, value(s.model()), 1e-6);

        // The next round opened at that tick; at its deadline it holds one update, fewer than min_workers,
        // so it stays open and closes on the next update.
        s.onUpdate(update("c", 1, 1, scalar(1)));
        assertEquals(new Buffered(1, 5), s.onTick(21_000));
        assertEquals(new Published(2, List.of("c", "d"), Map.of()), s.onUpdate(update("d", 1, 1, scalar(1))));
        assertEquals(4, value(s.model()), 1e-6);
    }

    @Test
    void withoutDeadlineTicksNeverPublish() {
        Strategy s = Strategies.create("fedavg", Map.of("min_workers", 3), scalar(0));
        s.onUpdate(update("a", 0, 1, scalar(2)));
        s.onUpdate(update("b", 0, 1, scalar(2)));
        assertEquals(new Buffered(2, 3), s.onTick(0));
        assertEquals(new Buffered(2, 3), s.onTick(Long.MAX_VALUE / 2));
        assertEquals(0, s.version());
    }
}
