package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static dev.tributary.coordinator.strategy.Fixtures.update;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ConcurrencyEstimateTest {

    /**
     * {@code clients} clients with speeds spread 10x train from the version current when they last
     * pushed; returns the strategy after {@code updates} arrivals, taken in arrival-time order.
     */
    static Strategy population(String name, Map<String, Object> cfg, int clients, int updates) {
        Strategy s = Strategies.create(name, cfg, scalar(0));
        Random rnd = new Random(clients);
        double[] duration = new double[clients];
        double[] next = new double[clients];
        long[] base = new long[clients];
        for (int i = 0; i < clients; i++) {
            duration[i] = Math.pow(10, rnd.nextDouble());
            next[i] = duration[i];
        }
        for (int n = 0; n < updates; n++) {
            int c = 0;
            for (int i = 1; i < clients; i++) {
                c = next[i] < next[c] ? i : c;
            }
            s.onUpdate(update("u" + n, base[c], 10, scalar(0.01)));
            base[c] = s.version();
            next[c] += duration[c];
        }
        return s;
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 20, 100})
    void fedBuffSeesThePopulationInTrainingAndSizesItsBufferToHalfOfIt(int clients) {
        FedBuffStrategy s = (FedBuffStrategy) population("fedbuff", Map.of(), clients, 40 * clients);
        assertEquals(clients, s.concurrency(), 0.12 * clients, "estimate");
        assertEquals(Math.round(0.5 * s.concurrency()), s.needed());
    }

    @Test
    void theEstimateDoesNotDependOnTheBufferSize() {
        double small = ((FedBuffStrategy) population("fedbuff", Map.of("buffer_size", 5), 100, 4000)).concurrency();
        double large = ((FedBuffStrategy) population("fedbuff", Map.of("buffer_size", 50), 100, 4000)).concurrency();
        assertEquals(small, large, 0.1 * large);
    }

    @Test
    void fedAsyncCapsItsRateAtOneOverTheConcurrency() {
        Strategy s = population("fedasync", Map.of("mixing", "delta"), 50, 2000);
        double before = Fixtures.value(s.model());
        s.onUpdate(update("last", s.version(), 10, scalar(1)));
        double step = Fixtures.value(s.model()) - before;
        assertTrue(step > 1 / 60.0 && step < 1 / 40.0, "step " + step);
        Strategy fixed = population("fedasync", Map.of("mixing", "delta", "alpha", 0.9), 50, 200);
        before = Fixtures.value(fixed.model());
        fixed.onUpdate(update("last", fixed.version(), 10, scalar(1)));
        assertEquals(0.9, Fixtures.value(fixed.model()) - before, 1e-6, "a given alpha is used as published");
    }
}
