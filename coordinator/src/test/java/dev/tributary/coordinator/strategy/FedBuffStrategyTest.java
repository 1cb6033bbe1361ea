package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FedBuffStrategyTest {

    /** Round 1 fresh; round 2 mixes a τ = 1 update (2 examples) with a fresh one (1 example). */
    private static Strategy twoRounds(Map<String, Object> cfg) {
        Strategy s = Strategies.create("fedbuff", cfg, scalar(0));
        s.onUpdate(update("u1", 0, 1, scalar(1)));
        s.onUpdate(update("u2", 0, 1, scalar(3)));
        assertEquals(2, value(s.model()), 1e-6);
        s.onUpdate(update("u3", 0, 2, scalar(4)));
        s.onUpdate(update("u4", 1, 1, scalar(-2)));
        return s;
    }

    @Test
    void buffersKUpdatesThenPublishes() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 3), scalar(0));
        assertEquals(new Buffered(1, 3), s.onUpdate(update("a", 0, 1, scalar(1))));
        assertEquals(new Buffered(2, 3), s.onUpdate(update("b", 0, 1, scalar(1))));
        assertEquals(new Refused("update b: already buffered", Refused.DUPLICATE), s.onUpdate(update("b", 0, 1, scalar(1))));
        assertEquals(new Buffered(2, 3), s.onTick(99));
        assertEquals(new Published(1, List.of("a", "b", "c"), Map.of()), s.onUpdate(update("c", 0, 1, scalar(1))));
        assertEquals(new Buffered(1, 3), s.onUpdate(update("d", 0, 1, scalar(1))));
    }

    @Test
    void weightsAreExamplesTimesPolynomialStaleness() {
        Strategy s = twoRounds(Map.of("buffer_size", 2));
        double w3 = 2 / Math.sqrt(2);
        double w4 = 1;
        assertEquals(2 + (w3 * 4 + w4 * -2) / (w3 + w4), value(s.model()), 1e-6);
    }

    @Test
    void sumAggregatorKeepsThePapersWeightedSum() {
        Strategy s = twoRounds(Map.of("buffer_size", 2, "aggregator", "sum", "weighting", "uniform",
                "optimizer", Map.of("name", "sgd", "lr", 0.5)));
        // Round 1: Σδ = 4, halved by the lr → 2; round 2: (4/√2 − 2)·0.5.
        assertEquals(2 + 0.5 * (4 / Math.sqrt(2) - 2), value(s.model()), 1e-6);
    }

    @Test
    void stalenessFunctionIsConfigurable() {
        Strategy s = twoRounds(Map.of("buffer_size", 2, "staleness", "constant", "weighting", "uniform"));
        assertEquals(2 + (4 + -2) / 2.0, value(s.model()), 1e-6);
    }

    @Test
    void maxStalenessRefusesAndCountsNothingIntoTheBuffer() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", 1, "max_staleness", 1), scalar(0));
        for (int i = 0; i < 3; i++) {
            assertInstanceOf(Published.class, s.onUpdate(update("u" + i, s.version(), 1, scalar(1))));
        }
        assertEquals(new Refused("staleness 2 > max 1", Refused.STALENESS), s.onUpdate(update("old", 1, 1, scalar(1))));
        assertEquals(3, s.version());
        assertInstanceOf(Published.class, s.onUpdate(update("ok", 2, 1, scalar(1))));
    }
}
