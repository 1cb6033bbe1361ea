package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The limiters against Reverb's definitions (rate_limiter.cc, rate_limiters.py): the factories' ranges and
 * refusals, both predicates at the edges of the error buffer worked out by hand, and a table that blocks
 * whichever side is ahead, waits, wakes and refuses with the reason.
 */
class RateLimiterTest {
    @TempDir
    Path dir;

    @Test
    void factoriesGiveReverbsRanges() {
        RateLimiter m = RateLimiter.minSize(7);
        assertEquals(new RateLimiter(1.0, 7, -Double.MAX_VALUE, Double.MAX_VALUE, Duration.ZERO), m);
        // SampleToInsertRatio(2, 10, 5): offset 2 × 10 = 20, so [15, 25].
        assertEquals(new RateLimiter(2.0, 10, 15, 25, Duration.ZERO), RateLimiter.sampleToInsertRatio(2, 10, 5));
        assertEquals(new RateLimiter(2.0, 10, 3, 30, Duration.ZERO), RateLimiter.sampleToInsertRatio(2, 10, 3, 30));
        assertEquals(new RateLimiter(1.0, 1, 0, 5, Duration.ZERO), RateLimiter.queue(5));
    }

    @Test
    void refusesWhatReverbRaisesValueErrorFor() {
        // The buffer must span at least 2 × max(1, samples per insert).
        assertTrue(assertThrows(IllegalArgumentException.class, () -> RateLimiter.sampleToInsertRatio(3, 10, 2.99))
                .getMessage().contains(">= 2 × max(1, samplesPerInsert) = 6.0"));
        RateLimiter.sampleToInsertRatio(3, 10, 3);
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.sampleToInsertRatio(0.5, 10, 0.99));
        RateLimiter.sampleToInsertRatio(0.5, 10, 1);
        // A range above samples per insert × min size never lets sampling start.
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.sampleToInsertRatio(1, 10, 10.5, 20));
        RateLimiter.sampleToInsertRatio(1, 10, 10, 20);
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.minSize(0));
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.sampleToInsertRatio(1, 0, 5));
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.sampleToInsertRatio(0, 1, 5));
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.queue(0));
        assertThrows(IllegalArgumentException.class, () -> RateLimiter.minSize(1).withInsertTimeout(Duration.ofSeconds(-1)));
    }

    @Test
    void sampleToInsertRatioAtTheEdgesOfItsBuffer() {
        // samples per insert 1, min size 3, error buffer 2: [1, 5].
        RateLimiter r = RateLimiter.sampleToInsertRatio(1, 3, 2);
        // Filling: inserts pass while inserts + 1 − deletes <= 3, sampling waits for 3 items.
        assertTrue(r.canInsert(0, 0, 0, 1) && r.canInsert(2, 0, 0, 1));
        assertFalse(r.canSample(2, 0, 0, 1));
        // Full: inserts × 1 − samples − 1 >= 1 lets a sample through: with 3 inserts, 2 samples and no more.
        assertTrue(r.canSample(3, 0, 0, 1));
        assertTrue(r.canSample(3, 0, 1, 1));
        assertFalse(r.canSample(3, 0, 2, 1));
        assertTrue(r.canSample(3, 0, 0, 2));
        assertFalse(r.canSample(3, 0, 0, 3));
        // (inserts + 1) × 1 − samples <= 5: without samples, the 4th and 5th inserts pass, the 6th waits.
        assertTrue(r.canInsert(3, 0, 0, 1));
        assertTrue(r.canInsert(4, 0, 0, 1));
        assertFalse(r.canInsert(5, 0, 0, 1));
        assertTrue(r.canInsert(5, 0, 1, 1), "one sample makes room for one insert");
        assertFalse(r.canInsert(4, 0, 0, 2));
        // Deletes take the table back below the min size: sampling waits again, inserts are free again.
        assertFalse(r.canSample(5, 3, 0, 1));
        assertTrue(r.canInsert(5, 3, 0, 1));
        assertTrue(r.whyNotInsert(5, 0, 0, 1).contains("6.0 > 5.0 (inserts are ahead of sampling)"), r.whyNotInsert(5, 0, 0, 1));
        assertTrue(r.whyNotSample(3, 0, 2, 1).contains("0.0 < 1.0 (sampling is ahead of inserts)"), r.whyNotSample(3, 0, 2, 1));
        assertTrue(r.whyNotSample(2, 0, 0, 1).contains("holds 2 items, fewer than the 3"));
    }

    @Test
    void fractionalRatioAndMinSize() {
        // 0.5 samples per insert, min size 2, buffer 1: [0, 2]. Each insert earns half a sample.
        RateLimiter r = RateLimiter.sampleToInsertRatio(0.5, 2, 1);
        assertTrue(r.canSample(2, 0, 0, 1)); // 1 − 0 − 1 = 0 >= 0
        assertFalse(r.canSample(2, 0, 1, 1));
        assertFalse(r.canSample(3, 0, 1, 1)); // 1.5 − 1 − 1 < 0
        assertTrue(r.canSample(4, 0, 1, 1));
        assertTrue(r.canInsert(5, 0, 1, 1)); // 3 − 1 = 2 <= 2
        assertFalse(r.canInsert(6, 0, 1, 1)); // 3.5 − 1 > 2
        RateLimiter m = RateLimiter.minSize(3);
        assertFalse(m.canSample(3, 1, 0, 1));
        assertTrue(m.canSample(3, 0, 1_000_000, 1));
        assertTrue(m.canInsert(1_000_000, 0, 0, 1));
    }

    TableConfig ratio(RateLimiter r) {
        return TableConfig.uniformReplay(100, 1, 7).withLimiter(r);
    }

    @Test
    void aTableBlocksSamplingAtTheLowerEdgeAndLetsItGoOnAnInsert() throws Exception {
        try (Table t = TestItems.open(dir, ratio(RateLimiter.sampleToInsertRatio(1, 3, 2)))) {
            for (int i = 0; i < 3; i++) {
                assertTrue(TestItems.insert(t, "i" + i, 1));
            }
            assertEquals(2, t.sample(5, Duration.ofMillis(100)).size(), "the buffer lets 2 samples through");
            assertEquals(0, t.sample(1, Duration.ZERO).size());
            ExecutorService ex = Executors.newSingleThreadExecutor();
            try {
                Future<List<Item>> waiting = ex.submit(() -> t.sample(1, Duration.ofSeconds(30)));
                Thread.sleep(100);
                assertFalse(waiting.isDone(), "the sample waits");
                assertTrue(TestItems.insert(t, "i3", 1));
                assertEquals(1, waiting.get(10, TimeUnit.SECONDS).size(), "an insert wakes it");
            } finally {
                ex.shutdownNow();
            }
            assertEquals(3, t.sampled());
        }
    }

    @Test
    void aTableRefusesInsertsAtTheUpperEdgeWithTheReasonOrWaitsForASample() throws Exception {
        try (Table t = TestItems.open(dir, ratio(RateLimiter.sampleToInsertRatio(1, 3, 2)))) {
            for (int i = 0; i < 5; i++) {
                assertTrue(TestItems.insert(t, "i" + i, 1));
            }
            CompletionException e = assertThrows(CompletionException.class, () -> TestItems.insert(t, "i5", 1));
            InsertRefusedException refused = assertInstanceOf(InsertRefusedException.class, e.getCause());
            assertTrue(refused.getMessage().startsWith("item i5 refused: rate limiter:"), refused.getMessage());
            assertEquals(5, t.inserted(), "nothing was inserted");
            assertEquals(1, t.sample(1, Duration.ZERO).size());
            assertTrue(TestItems.insert(t, "i5", 1), "the same id goes in once a sample made room");
        }
        Path other = dir.resolve("waiting");
        RateLimiter waits = RateLimiter.sampleToInsertRatio(1, 3, 2).withInsertTimeout(Duration.ofSeconds(30));
        try (Table t = TestItems.open(other, ratio(waits))) {
            for (int i = 0; i < 5; i++) {
                assertTrue(TestItems.insert(t, "i" + i, 1));
            }
            CompletableFuture<Boolean> blocked = CompletableFuture.supplyAsync(() -> TestItems.insert(t, "i5", 1));
            Thread.sleep(100);
            assertFalse(blocked.isDone(), "the insert waits for sampling");
            assertEquals(1, t.sample(1, Duration.ZERO).size());
            assertTrue(blocked.get(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void aQueueHoldsAtMostItsSizeNotYetSampledAndSamplesOnlyWhatIsThere() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.fifoQueue(3))) {
            assertEquals(0, t.sample(1, Duration.ofMillis(20)).size(), "nothing to sample");
            for (int i = 0; i < 3; i++) {
                assertTrue(TestItems.insert(t, "i" + i, 1));
            }
            assertThrows(CompletionException.class, () -> TestItems.insert(t, "i3", 1));
            List<Item> got = t.sample(2, Duration.ZERO);
            assertEquals(List.of("i0", "i1"), got.stream().map(Item::id).toList());
            t.remove(got.stream().map(Item::id).toList()).join();
            assertTrue(TestItems.insert(t, "i3", 1));
            assertTrue(TestItems.insert(t, "i4", 1));
            assertThrows(CompletionException.class, () -> TestItems.insert(t, "i5", 1));
            assertEquals(List.of("i2", "i3", "i4"), t.sample(10, Duration.ofMillis(20)).stream().map(Item::id).toList());
        }
    }

    @Test
    void minSizeBlocksSamplingUntilTheTableHoldsEnough() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(100, 3, 1))) {
            TestItems.insert(t, "a", 1);
            TestItems.insert(t, "b", 1);
            long start = System.nanoTime();
            assertEquals(0, t.sample(4, Duration.ofMillis(50)).size());
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(50), "it waited for the timeout");
            TestItems.insert(t, "c", 1);
            assertEquals(4, t.sample(4, Duration.ZERO).size());
            t.remove(List.of("a")).join();
            assertEquals(0, t.sample(1, Duration.ZERO).size(), "below the min size again after a removal");
        }
    }
}
