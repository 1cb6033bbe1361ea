package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TrainerCacheTest {
    /** A trainer that only records whether it was closed. */
    private static final class Recording implements LocalTrainer {
        final int client;
        boolean closed;

        Recording(int client) {
            this.client = client;
        }

        @Override
        public TrainResult train(TensorMap weights, TrainPlan plan) {
            return new TrainResult(new TensorMap(), 0, 0, Map.of());
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    @Test
    void keepsTheMostRecentlyUsedAndClosesWhatItEvicts() {
        List<Recording> made = new ArrayList<>();
        TrainerCache cache = new TrainerCache(2, c -> {
            Recording r = new Recording(c);
            made.add(r);
            return r;
        });
        LocalTrainer zero = cache.get(0);
        cache.get(1);
        assertSame(zero, cache.get(0), "a cached trainer is reused");
        cache.get(2); // evicts 1, the least recently used
        assertEquals(List.of(0, 1, 2), made.stream().map(r -> r.client).toList());
        assertEquals(List.of(false, true, false), made.stream().map(r -> r.closed).toList());
        assertEquals(2, cache.size());
        cache.get(1); // made again
        assertEquals(4, made.size());
        cache.close();
        assertEquals(0, cache.size());
        assertEquals(4, made.stream().filter(r -> r.closed).count());
    }
}
