package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FedAsyncStrategyTest {

    @Test
    void everyUpdatePublishesAtOnce() {
        Strategy s = Strategies.create("fedasync", Map.of(), scalar(1));
        assertEquals(new Published(1, List.of("a"), Map.of("loss", 0.5)),
                s.onUpdate(new Update("a", 0, 7, 1, scalar(2), Map.of("loss", 0.5))));
        // Plato's defaults: α = 0.9, constant staleness.
        assertEquals(1 + 0.9 * 2, value(s.model()), 1e-6);
        assertEquals(new Buffered(0, 1), s.onTick(123));
    }

    @Test
    void modelMixingPullsAStaleUpdateTowardsItsBase() {
        Map<String, Object> cfg = Map.of("alpha", 0.8, "staleness", Map.of("name", "polynomial", "a", 1));
        Strategy s = Strategies.create("fedasync", cfg, scalar(1));
        s.onUpdate(update("a", 0, 1, scalar(2)));          // τ = 0: θ₁ = 1 + 0.8·2
        double theta1 = 1 + 0.8 * 2;
        assertEquals(theta1, value(s.model()), 1e-6);
        s.onUpdate(update("b", 0, 1, scalar(-1)));         // τ = 1: the worker holds θ₀ + δ = 0
        double a = 0.8 / 2;
        double expected = (1 - a) * theta1 + a * (1 + -1);
        assertEquals(expected, value(s.model()), 1e-6);
    }

    @Test
    void deltaMixingAddsTheScaledDelta() {
        Map<String, Object> cfg = Map.of("alpha", 0.8, "mixing", "delta",
                "staleness", Map.of("name", "hinge", "a", 2, "b", 0));
        Strategy s = Strategies.create("fedasync", cfg, scalar(1));
        s.onUpdate(update("a", 0, 1, scalar(2)));
        s.onUpdate(update("b", 0, 1, scalar(-1)));         // τ = 1: s = 1/(2·1 + 1)
        assertEquals(1 + 0.8 * 2 + 0.8 / 3 * -1, value(s.model()), 1e-6);
    }

    @Test
    void bothFormsAgreeForFreshUpdates() {
        Strategy model = Strategies.create("fedasync", Map.of(), scalar(0.25));
        Strategy delta = Strategies.create("fedasync", Map.of("mixing", "delta"), scalar(0.25));
        for (int i = 0; i < 5; i++) {
            model.onUpdate(update("m" + i, model.version(), 1, scalar(0.1 * i - 0.2)));
            delta.onUpdate(update("d" + i, delta.version(), 1, scalar(0.1 * i - 0.2)));
        }
        assertEquals(value(delta.model()), value(model.model()), 1e-6);
    }

    @Test
    void staleUpdatesBeyondTheKeptHistoryAreRefused() {
        Strategy s = Strategies.create("fedasync", Map.of("max_staleness", 2), scalar(0));
        for (int i = 0; i < 3; i++) {
            s.onUpdate(update("u" + i, s.version(), 1, scalar(1)));
        }
        assertEquals(new Refused("staleness 3 > max 2", Refused.STALENESS), s.onUpdate(update("old", 0, 1, scalar(1))));
        assertTrue(s.onUpdate(update("ok", 1, 1, scalar(1))) instanceof Published);
        // The exported history holds exactly the versions a later update may still be based on.
        List<String> names = s.exportState().names();
        assertEquals(List.of("history/2/w", "history/3/w"), names);
    }

    @Test
    void modelHistoryIsBoundedByDefault() {
        Strategy s = Strategies.create("fedasync", Map.of(), scalar(0));
        for (int i = 0; i < 40; i++) {
            s.onUpdate(update("u" + i, s.version(), 1, scalar(1)));
        }
        assertEquals(16, s.exportState().size());
        assertEquals(Refused.STALENESS, ((Refused) s.onUpdate(update("old", 40 - 17, 1, scalar(1)))).code());
        assertEquals(0, Strategies.create("fedasync", Map.of("mixing", "delta"), scalar(0)).exportState().size());
    }
}
