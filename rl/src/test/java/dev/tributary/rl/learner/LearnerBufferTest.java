package dev.tributary.rl.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.rl.actor.LearnerClient;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The learner over the durable replay table: the table's rate limiter decides when a push is answered
 * busy (and that is counted), and the table's index of ids recognizes a push repeated after a restart as a
 * duplicate, however far behind its policy version has fallen.
 */
class LearnerBufferTest {
    static final int T = LearnerServiceTest.T;
    static final LearnerConfig CONFIG = LearnerServiceTest.CONFIG;

    @TempDir
    Path dir;

    /** Forwards to a buffer, except that training gets nothing while paused and the insert hint can be off. */
    static final class Paused implements ExperienceBuffer {
        final ExperienceBuffer inner;
        volatile boolean paused = true;
        volatile boolean hints = true;

        Paused(ExperienceBuffer inner) {
            this.inner = inner;
        }

        public CompletableFuture<Boolean> insert(String id, long v, MemorySegment p, double w) {
            return inner.insert(id, v, p, w);
        }

        public List<Item> sample(int n, Duration timeout) throws InterruptedException {
            if (paused) {
                Thread.sleep(timeout.toMillis());
                return List.of();
            }
            return inner.sample(n, timeout);
        }

        public CompletableFuture<Void> remove(List<String> ids) {
            return inner.remove(ids);
        }

        public boolean contains(String id) {
            return inner.contains(id);
        }

        public String whyNotInsert() {
            return hints ? inner.whyNotInsert() : null;
        }

        public long size() {
            return inner.size();
        }

        public void checkpoint(TensorMap state) {
            inner.checkpoint(state);
        }

        public Optional<TensorMap> lastCallerState() {
            return inner.lastCallerState();
        }

        public void close() {
            inner.close();
        }
    }

    static MemorySegment payload(Experience x) {
        return LearnerServiceTest.bytes(ExperienceFormat.encode(x, LearnerServiceTest.ACTIONS));
    }

    /**
     * With {@code buffer_items} items not yet trained on, the table's queue limiter holds inserts back: the
     * next push is answered UNAVAILABLE "busy: rate limiter: …" with a retry pushback, before its payload is
     * stored, counted as busy (in /metrics and /status), not as a refusal. When the hint before the payload
     * misses it (the limiter changed its mind in between), the table's own refusal is the same busy answer.
     */
    @Test
    void theRateLimiterOwnsBusy() throws Exception {
        Paused buffer = new Paused(DurableBuffer.open(dir.resolve("state"), CONFIG.bufferItems(), w -> { }));
        Experience x = LearnerFixture.cartPole(T, 2, 0);
        List<String> stored = new ArrayList<>();
        try (LearnerFixture f = LearnerFixture.start(CONFIG, buffer, false)) {
            LearnerClient c = new LearnerClient(f.channel, LearnerFixture.TOKEN, Duration.ofSeconds(10));
            for (int i = 0; i < CONFIG.bufferItems(); i++) {
                String id = UUID.randomUUID().toString();
                assertFalse(c.push(LearnerServiceTest.header(id, x), payload(x)).getDuplicate());
                stored.add(id);
            }
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> c.push(LearnerServiceTest.header(UUID.randomUUID().toString(), x), payload(x)));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().startsWith("busy: rate limiter: "), e.getStatus().getDescription());
            assertEquals(1, e.getStatus().getDescription().lines().count());
            assertEquals(Long.toString(LearnerService.BUSY_PUSHBACK_MILLIS), e.getTrailers().get(Refusal.RETRY_PUSHBACK_MS));

            buffer.hints = false;
            String late = UUID.randomUUID().toString();
            e = assertThrows(StatusRuntimeException.class, () -> c.push(LearnerServiceTest.header(late, x), payload(x)));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertTrue(e.getStatus().getDescription().startsWith("busy: item " + late + " refused: rate limiter: "),
                    e.getStatus().getDescription());
            assertFalse(buffer.contains(late), "nothing of a busy push is stored");

            assertEquals(2, f.learner.metrics().busyTotal());
            assertTrue(f.learner.statusJson().contains("\"busy\":2"), f.learner.statusJson());
            assertTrue(f.learner.metrics().scrape().contains("tributary_experience_busy_total 2.0"));
            assertEquals(0, f.learner.rejected());
            assertEquals(CONFIG.bufferItems(), f.learner.accepted());

            // Training makes room: the same item pushed again goes in.
            buffer.paused = false;
            buffer.hints = true;
            long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (buffer.whyNotInsert() != null && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            assertFalse(c.push(LearnerServiceTest.header(late, x), payload(x)).getDuplicate());
            stored.add(late);
        }
        assertEquals(stored, DurableBuffer.insertedIds(dir.resolve("state")));
    }

    /**
     * An item acknowledged by one learner process and pushed again to the next one (its acknowledgment was
     * lost in the crash), by which time the policy moved on far beyond {@code max_lag}: the table's index
     * knows the id, so the push is acknowledged as a duplicate instead of refused for its lag, and the id is
     * in the log once.
     */
    @Test
    void aPushRepeatedAfterARestartIsADuplicateEvenBeyondMaxLag() throws Exception {
        Path state = dir.resolve("state");
        LearnerFixture.start(CONFIG, DurableBuffer.open(state, 64, w -> { }), true).close();
        setVersion(state, 20);
        String id = UUID.randomUUID().toString();
        Experience x = LearnerFixture.cartPole(T, 2, 17);
        try (LearnerFixture f = LearnerFixture.start(CONFIG, DurableBuffer.open(state, 64, w -> { }), true)) {
            LearnerClient c = new LearnerClient(f.channel, LearnerFixture.TOKEN, Duration.ofSeconds(10));
            assertEquals(3, c.push(LearnerServiceTest.header(id, x), payload(x)).getLag());
        }
        setVersion(state, 20 + 5 * CONFIG.maxLag());
        try (LearnerFixture f = LearnerFixture.start(CONFIG, DurableBuffer.open(state, 64, w -> { }), true)) {
            assertEquals(20 + 5 * CONFIG.maxLag(), f.learner.version());
            LearnerClient c = new LearnerClient(f.channel, LearnerFixture.TOKEN, Duration.ofSeconds(10));
            assertTrue(c.push(LearnerServiceTest.header(id, x), payload(x)).getDuplicate());
            assertEquals(0, f.learner.rejected(), "not refused for its lag");
            assertEquals(1, f.learner.metrics().duplicateTotal());
            // A fresh item as old is refused for its lag: the bound still holds for what is new.
            String fresh = UUID.randomUUID().toString();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> c.push(LearnerServiceTest.header(fresh, x), payload(x)));
            assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
            assertEquals(1, f.learner.metrics().refusedCount("lag"));
        }
        assertEquals(List.of(id), DurableBuffer.insertedIds(state));
    }

    /** Rewrites the version of the learner state checkpointed in {@code state}, as if it had trained on. */
    private static void setVersion(Path state, long version) throws Exception {
        try (DurableBuffer b = DurableBuffer.open(state, 64, w -> { })) {
            TensorMap s = b.lastCallerState().orElseThrow();
            s.putMetadata("version", Long.toString(version));
            b.checkpoint(s);
        }
    }

    /**
     * Items the learner sampled but did not remove before it died are handed out again after the restart, and
     * inserts go on (with Reverb's queue limiter, which counts them as sampled, both would wait for good).
     */
    @Test
    void itemsSampledButNotRemovedBeforeACrashAreSampledAgain() throws Exception {
        Path state = dir.resolve("state");
        MemorySegment p = MemorySegment.ofArray(new byte[] {1, 2, 3});
        try (DurableBuffer b = DurableBuffer.open(state, 2, w -> { })) {
            assertTrue(b.insert("a", 0, p, 1).join());
            assertTrue(b.insert("b", 0, p, 1).join());
            String why = b.whyNotInsert();
            assertTrue(why != null && why.startsWith("rate limiter:"), "2 items wait for training: " + why);
            assertEquals(List.of("a", "b"), b.sample(2, Duration.ZERO).stream().map(ExperienceBuffer.Item::id).toList());
            assertEquals(null, b.whyNotInsert(), "handed to training: room for more");
        }
        try (DurableBuffer b = DurableBuffer.open(state, 2, w -> { })) {
            assertEquals(List.of("a", "b"), b.sample(2, Duration.ofSeconds(1)).stream().map(ExperienceBuffer.Item::id).toList(),
                    "sampled again after the restart");
            assertTrue(b.insert("c", 0, p, 1).join());
            b.remove(List.of("a", "b")).join();
            assertEquals(List.of("c"), b.sample(2, Duration.ZERO).stream().map(ExperienceBuffer.Item::id).toList());
        }
    }

    /** The in-memory buffer answers the same way: contains for every id ever taken, busy when full. */
    @Test
    void theMemoryBufferIndexesIdsAndRefusesWhenFull() {
        MemoryBuffer b = MemoryBuffer.inMemory(1);
        MemorySegment p = MemorySegment.ofArray(new byte[] {1});
        assertEquals(null, b.whyNotInsert());
        assertTrue(b.insert("a", 0, p, 1).join());
        assertEquals("buffer full: 1 items, capacity 1", b.whyNotInsert());
        CompletableFuture<Boolean> refused = b.insert("b", 0, p, 1);
        assertTrue(refused.isCompletedExceptionally());
        b.remove(List.of("a")).join();
        assertTrue(b.contains("a"));
        assertFalse(b.contains("b"));
        assertFalse(b.insert("a", 0, p, 1).join(), "a consumed id is still a duplicate");
    }
}
