package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class WorkerClockTest {

    private static Update from(String worker, String id) {
        return new Update(id, 0, 1, 1, scalar(0), Map.of(), worker);
    }

    @Test
    void countsDistinctWorkersAfterTheBaseAndNeverMoreThanTheVersions() {
        WorkerClock clock = new WorkerClock();
        Random rnd = new Random(3);
        String[] made = new String[301]; // made[v]: the worker whose update made version v
        for (int v = 1; v <= 300; v++) {
            made[v] = "w" + (rnd.nextInt(10) < 8 ? 0 : 1 + rnd.nextInt(20));
            clock.published(from(made[v], "u" + v), v);
        }
        for (int base = 0; base <= 300; base += 7) {
            java.util.Set<String> after = new java.util.HashSet<>();
            for (int v = base + 1; v <= 300; v++) {
                after.add(made[v]);
            }
            assertEquals(after.size(), clock.staleness(base), "base " + base);
            assertTrue(clock.staleness(base) <= 300 - base);
        }
    }

    @Test
    void holdsAtMostTheWindowHoweverManyWorkersAndKeepsCountingWithinIt() {
        WorkerClock clock = new WorkerClock();
        int versions = 5 * WorkerClock.WINDOW;
        for (int v = 1; v <= versions; v++) {
            // Every update from a worker never seen before, as a hostile client registering ids would send.
            clock.published(from("", "u" + v), v);
            assertTrue(clock.size() <= WorkerClock.WINDOW + 1, "held " + clock.size() + " at version " + v);
        }
        // Within the window the count is exact: each version was made by a worker of its own.
        assertEquals(WorkerClock.WINDOW - 1, clock.staleness(versions - WorkerClock.WINDOW + 1));
        assertEquals(10, clock.staleness(versions - 10));
    }

    @Test
    void writesAndReadsBackAnyWorkerId() {
        WorkerClock clock = new WorkerClock();
        clock.published(from("a,b:c\u00e9", "1"), 1);
        clock.published(from("", "anon"), 2);
        clock.published(from("plain", "3"), 3);
        TensorMap state = new TensorMap();
        clock.write(state);
        WorkerClock back = new WorkerClock();
        back.read(state, 3);
        for (long base = 0; base <= 3; base++) {
            assertEquals(clock.staleness(base), back.staleness(base));
        }
        // The same worker again replaces its entry in both.
        clock.published(from("a,b:c\u00e9", "4"), 4);
        back.published(from("a,b:c\u00e9", "4"), 4);
        assertEquals(3, back.staleness(0));
        assertEquals(clock.staleness(1), back.staleness(1));
        assertEquals(3, back.size());
    }
}
