package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static dev.tributary.coordinator.strategy.Fixtures.value;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorMap;
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
        Strategy s = Strategies.create("fedasync", Map.of("max_staleness", 2, "staleness_clock", "versions"), scalar(0));
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
        // Under the worker clock (the default) an update based before the kept models is heard, as a delta.
        double before = value(s.model());
        assertTrue(s.onUpdate(update("old", 40 - 17, 1, scalar(1))) instanceof Published);
        assertTrue(value(s.model()) > before);
        assertEquals(16, s.exportState().size());
        // Under the version clock it is refused: max_staleness is the history, 16 versions.
        Strategy versions = Strategies.create("fedasync", Map.of("staleness_clock", "versions"), scalar(0));
        for (int i = 0; i < 40; i++) {
            versions.onUpdate(update("u" + i, versions.version(), 1, scalar(1)));
        }
        assertEquals(16, versions.exportState().size());
        assertEquals(Refused.STALENESS, ((Refused) versions.onUpdate(update("old", 40 - 17, 1, scalar(1)))).code());
        assertEquals(0, Strategies.create("fedasync", Map.of("mixing", "delta"), scalar(0)).exportState().size());
        assertEquals("fedasync.history: must be a whole number >= 0, got 0.5",
                assertThrows(IllegalArgumentException.class,
                        () -> Strategies.create("fedasync", Map.of("history", 0.5), scalar(0))).getMessage());
        // The version clock with max_staleness 0 keeps no models, and refuses every stale update.
        Strategy fresh = Strategies.create("fedasync", Map.of("alpha", 0.5, "max_staleness", 0), scalar(0));
        fresh.onUpdate(update("a", 0, 1, scalar(1)));
        assertEquals(0, fresh.exportState().size());
        assertEquals(Refused.STALENESS, ((Refused) fresh.onUpdate(update("b", 0, 1, scalar(1)))).code());
        assertEquals("fedasync.history: delta mixing keeps no models; history applies to mixing: model",
                assertThrows(IllegalArgumentException.class,
                        () -> Strategies.create("fedasync", Map.of("history", 4, "mixing", "delta"), scalar(0))).getMessage());
    }

    @Test
    void anUpdateOfFewExamplesMixesInAsFarAsItsExamplesUnderTheFloor() {
        Map<String, Object> cfg = Map.of("alpha", 0.5, "mixing", "delta", "examples_floor", 0.1);
        Strategy s = Strategies.create("fedasync", cfg, scalar(0));
        s.onUpdate(update("big", 0, 100, scalar(1)));       // r = 100: n ≥ φ·r, the full α
        assertEquals(0.5, value(s.model()), 1e-9);
        s.onUpdate(update("tiny", 1, 1, scalar(1)));        // r = (100² + 1) / 101, factor 1 / (0.1·r)
        double r = (100.0 * 100 + 1) / 101;
        assertEquals(0.5 + 0.5 / (0.1 * r), value(s.model()), 1e-6);
        // An update that reports no examples mixes in at the full α and leaves r as it was.
        s.onUpdate(update("unknown", 2, 0, scalar(1)));
        double before = value(s.model());
        assertEquals(0.5 + 0.5 / (0.1 * r) + 0.5, before, 1e-6);
        s.onUpdate(update("tiny2", 3, 1, scalar(1)));
        double r2 = (100.0 * 100 + 2) / 102;
        assertEquals(before + 0.5 / (0.1 * r2), value(s.model()), 1e-6);
    }

    @Test
    void theFloorIsOnWithTheAutoAlphaAndOffAsPublished() {
        // The default (alpha_scale auto, floor 0.1) scales the tiny update; α given (as published) does not.
        Strategy auto = Strategies.create("fedasync", Map.of("mixing", "delta"), scalar(0));
        Strategy published = Strategies.create("fedasync", Map.of("mixing", "delta", "alpha", 0.9), scalar(0));
        for (Strategy s : List.of(auto, published)) {
            s.onUpdate(update("big", 0, 1000, scalar(0)));
        }
        double a0 = value(auto.model());
        auto.onUpdate(update("tiny", 1, 1, scalar(1)));
        published.onUpdate(update("tiny", 1, 1, scalar(1)));
        assertEquals(0.9, value(published.model()), 1e-6);  // no Ĉ before the first publish: α itself
        double r = (1000.0 * 1000 + 1) / 1001;
        assertTrue(value(auto.model()) - a0 <= 0.9 / (0.1 * r) + 1e-9, "tiny update moved " + value(auto.model()));
        assertTrue(value(auto.model()) - a0 > 0, "tiny update did not move the model at all");
        assertEquals("fedasync.examples_floor: must be in [0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class,
                        () -> Strategies.create("fedasync", Map.of("examples_floor", 1.5), scalar(0))).getMessage());
    }

    private static Update from(String worker, String id, long base, TensorMap delta) {
        return new Update(id, base, 1, 1, delta, Map.of(), worker);
    }

    @Test
    void aWorkerThatPushedManyTimesAgesAnotherUpdateOnceUnderTheWorkerClock() {
        Map<String, Object> cfg = Map.of("alpha", 0.5, "staleness", Map.of("name", "polynomial", "a", 1),
                "max_staleness", 2, "history", 2, "staleness_clock", "workers");
        Strategy s = Strategies.create("fedasync", cfg, scalar(1));
        s.onUpdate(from("fast", "f0", 0, scalar(2)));
        s.onUpdate(from("fast", "f1", 1, scalar(2)));
        double theta2 = value(s.model());
        // τ = 2 versions but one worker: s(1) = 1/2, and the base (θ₀ = 1) is still kept, so the paper's rule.
        s.onUpdate(from("slow", "s0", 0, scalar(-1)));
        double a = 0.5 / 2;
        assertEquals((1 - a) * theta2 + a * (1 - 1), value(s.model()), 1e-6);
        for (int i = 0; i < 4; i++) {
            s.onUpdate(from("fast", "g" + i, s.version(), scalar(1)));
        }
        // Based on version 3: four versions on, all made by one worker (slow's own update made version 3, which
        // is not after the base), so s(1) again. Version 3 is past the kept history (5 and 6): mixed as a delta.
        double before = value(s.model());
        Decision d = s.onUpdate(from("slow", "s1", 3, scalar(-1)));
        assertTrue(d instanceof Published, d.toString());
        assertEquals(before + a * -1, value(s.model()), 1e-6);
        // A third worker's update based on version 0: fast and slow merged since, τ_w = 2, admitted.
        assertTrue(s.onUpdate(from("third", "t0", 0, scalar(0))) instanceof Published);
        // A fourth's, based on version 0 again: fast, slow and third merged since, τ_w = 3 > 2.
        assertEquals(new Refused("staleness 3 (workers merged since base version 0) > max 2", Refused.STALENESS),
                s.onUpdate(from("fourth", "x0", 0, scalar(0))));
    }

    @Test
    void theVersionClockRefusesWhatTheWorkerClockTakes() {
        Map<String, Object> cfg = Map.of("alpha", 0.5, "max_staleness", 2);
        Strategy versions = Strategies.create("fedasync", cfg, scalar(1));
        for (int i = 0; i < 3; i++) {
            versions.onUpdate(from("fast", "f" + i, i, scalar(1)));
        }
        assertEquals(new Refused("staleness 3 > max 2", Refused.STALENESS), versions.onUpdate(from("slow", "s", 0, scalar(1))));
        // Updates without a worker each count as a worker of their own: the version clock's answer.
        Strategy anonymous = Strategies.create("fedasync", Map.of("max_staleness", 2, "staleness_clock", "workers"), scalar(1));
        for (int i = 0; i < 3; i++) {
            anonymous.onUpdate(update("u" + i, i, 1, scalar(1)));
        }
        assertEquals(Refused.STALENESS, ((Refused) anonymous.onUpdate(update("old", 0, 1, scalar(1)))).code());
    }

    @Test
    void theWorkerClockIsOnWithTheAutoAlphaAndOffAsPublished() {
        Strategy auto = Strategies.create("fedasync", Map.of("max_staleness", 1), scalar(0));
        Strategy published = Strategies.create("fedasync", Map.of("max_staleness", 1, "alpha", 0.9), scalar(0));
        for (Strategy s : List.of(auto, published)) {
            s.onUpdate(from("fast", "f0", 0, scalar(1)));
            s.onUpdate(from("fast", "f1", 1, scalar(1)));
        }
        assertTrue(auto.onUpdate(from("slow", "s", 0, scalar(1))) instanceof Published);
        assertTrue(published.onUpdate(from("slow", "s", 0, scalar(1))) instanceof Refused);
        assertEquals("fedasync.staleness_clock: must be workers (distinct workers merged since the base) or versions, "
                        + "got \"rounds\"",
                assertThrows(IllegalArgumentException.class,
                        () -> Strategies.create("fedasync", Map.of("staleness_clock", "rounds"), scalar(0))).getMessage());
    }

    @Test
    void theWorkerClockTravelsWithTheState() {
        Map<String, Object> cfg = Map.of("max_staleness", 1, "staleness_clock", "workers");
        Strategy a = Strategies.create("fedasync", cfg, scalar(0));
        a.onUpdate(from("fast", "f0", 0, scalar(1)));
        a.onUpdate(from("fast", "f1", 1, scalar(1)));
        Strategy b = Strategies.create("fedasync", cfg, scalar(0));
        b.restoreState(a.model(), a.version(), a.exportState());
        // Restored, it still knows that both versions came from one worker: τ_w = 1, admitted.
        assertEquals(a.onUpdate(from("slow", "s", 0, scalar(1))), b.onUpdate(from("slow", "s", 0, scalar(1))));
        assertTrue(Fixtures.identical(a.model(), b.model()));
        TensorMap bad = a.exportState();
        bad.putMetadata("worker_clock/last", "9:Zm9v");
        assertEquals("fedasync state: worker clock entry \"9:Zm9v\": version 9 is not in [1, 3]",
                assertThrows(IllegalArgumentException.class, () -> b.restoreState(a.model(), a.version(), bad)).getMessage());
        bad.putMetadata("worker_clock/last", "x");
        assertEquals("fedasync state: worker clock entry \"x\": not version:worker",
                assertThrows(IllegalArgumentException.class, () -> b.restoreState(a.model(), a.version(), bad)).getMessage());
    }
}
