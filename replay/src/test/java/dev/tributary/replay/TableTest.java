package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.Failpoints;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The table's contract in one process: acknowledgment, retries, reopening, checkpoints with the caller's state. */
class TableTest {
    @TempDir
    Path dir;

    @AfterEach
    void disarm() {
        Failpoints.install(null);
    }

    @Test
    void anInsertIsAcknowledgedOnceAndItsPayloadIsCopied() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(10, 1, 0))) {
            byte[] bytes = {1, 2, 3};
            assertTrue(t.insert("a", 7, MemorySegment.ofArray(bytes), 2.5).join());
            bytes[0] = 9;
            assertFalse(t.insert("a", 8, MemorySegment.ofArray(bytes), 1).join(), "a retry is recognized");
            assertEquals(1, t.inserted());
            Item i = t.sample(1, Duration.ZERO).getFirst();
            assertEquals(new Item("a", 7, i.payload(), 2.5, 0), i);
            assertArrayEquals(new byte[] {1, 2, 3}, i.payload().toArray(ValueLayout.JAVA_BYTE));
            assertTrue(i.payload().isReadOnly());
        }
    }

    /**
     * {@code contains} answers for every id ever inserted: live, consumed and removed, evicted, before and
     * after a checkpoint, and after reopening the folder (the ids come back from the whole log).
     */
    @Test
    void containsKnowsEveryIdEverInsertedAcrossRemovalCheckpointAndReopen() throws Exception {
        TableConfig config = TableConfig.uniformReplay(2, 1, 0);
        try (Table t = TestItems.open(dir, config)) {
            assertFalse(t.contains("a"));
            TestItems.insert(t, "a", 1);
            TestItems.insert(t, "b", 1);
            t.remove(List.of("a")).join();
            t.checkpoint(new TensorMap());
            TestItems.insert(t, "c", 1);
            TestItems.insert(t, "d", 1);
            assertEquals(1, t.evicted(), "b evicted");
            for (String id : List.of("a", "b", "c", "d")) {
                assertTrue(t.contains(id), id);
            }
            assertFalse(t.contains("e"));
            assertEquals(List.of("c", "d"), t.snapshot().stream().map(Item::id).toList());
        }
        try (Table t = TestItems.open(dir, config)) {
            for (String id : List.of("a", "b", "c", "d")) {
                assertTrue(t.contains(id), "after reopening: " + id);
            }
            assertFalse(t.contains("e"));
            assertFalse(TestItems.insert(t, "a", 1), "a retry of a removed id is not inserted again");
            assertEquals(2, t.size());
        }
    }

    /** {@code whyNotInsert} is the limiter's answer: null while the queue has room, its reason when full. */
    @Test
    void whyNotInsertGivesTheRateLimitersReason() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.fifoQueue(2))) {
            assertEquals(null, t.whyNotInsert());
            TestItems.insert(t, "a", 1);
            TestItems.insert(t, "b", 1);
            String why = t.whyNotInsert();
            assertTrue(why != null && why.startsWith("rate limiter:"), why);
            InsertRefusedException e = assertThrows(InsertRefusedException.class, () -> {
                try {
                    TestItems.insert(t, "c", 1);
                } catch (java.util.concurrent.CompletionException ce) {
                    throw ce.getCause();
                }
            });
            assertTrue(e.getMessage().contains("rate limiter"), e.getMessage());
            t.sample(2, Duration.ZERO);
            assertTrue(t.whyNotInsert().startsWith("table full"), "sampled, but not removed yet: " + t.whyNotInsert());
            t.remove(List.of("a")).join();
            assertEquals(null, t.whyNotInsert(), "sampling and removing made room");
        }
    }

    @Test
    void aSafetensorsPayloadComesBackReadableAsTensors() throws Exception {
        TensorMap step = new TensorMap().put("obs", Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4))
                .put("reward", Tensor.ofFloats(new long[] {1}, 0.5f));
        try (Table t = TestItems.open(dir, TableConfig.fifoQueue(4))) {
            t.insert("s", 3, Safetensors.encode(step, java.util.Map.of("actor", "a0"), Arena.ofAuto()), 1).join();
        }
        try (Table t = TestItems.open(dir, TableConfig.fifoQueue(4))) {
            TensorMap back = ModelImage.tensors(t.sample(1, Duration.ZERO).getFirst().payload(), "item s");
            assertTrue(step.get("obs").contentEquals(back.get("obs")));
            assertEquals("a0", back.metadata().get("actor"));
        }
    }

    @Test
    void aRetryWhileTheFirstInsertIsNotDurableWaitsForIt() throws Exception {
        CountDownLatch forceMayGo = new CountDownLatch(1);
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(10, 1, 0))) {
            Failpoints.install(name -> {
                if (name.equals("log.force")) {
                    try {
                        forceMayGo.await(10, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            CompletableFuture<Boolean> first = t.insert("a", 0, TestItems.payload(1, 10), 1);
            CompletableFuture<Boolean> retry = t.insert("a", 0, TestItems.payload(1, 10), 1);
            Thread.sleep(50);
            assertFalse(first.isDone() || retry.isDone(), "nothing is acknowledged before the fsync");
            CompletableFuture<Void> removal = t.remove(List.of("nothing-like-it"));
            assertFalse(removal.isDone(), "a removal of nothing still waits for what came before");
            forceMayGo.countDown();
            assertTrue(first.get(10, TimeUnit.SECONDS));
            assertFalse(retry.get(10, TimeUnit.SECONDS));
            removal.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aReopenedTableIsTheTableThatWasClosed() throws Exception {
        List<String> before;
        TableConfig config = TableConfig.prioritizedReplay(30, 0.6, 1, 3);
        try (Table t = TestItems.open(dir, config)) {
            for (int i = 0; i < 50; i++) {
                TestItems.insert(t, "i" + i, i % 4);
                if (i % 7 == 0) {
                    t.sample(3, Duration.ZERO);
                    t.remove(List.of("i" + (i - 3), "unknown")).join();
                }
            }
            before = TestItems.content(t);
        }
        try (Table t = TestItems.open(dir, config)) {
            assertEquals(before, TestItems.content(t));
        }
        List<String> ids = Table.insertedIds(dir);
        assertEquals(50, ids.size());
        assertEquals("i0", ids.getFirst());
        assertEquals("i49", ids.getLast());
    }

    @Test
    void aCheckpointKeepsTheCallersStateWithTheTable() throws Exception {
        TableConfig config = TableConfig.uniformReplay(100, 1, 0);
        TensorMap policy = new TensorMap().put("pi.w", Tensor.ofFloats(new long[] {2}, 0.5f, -1f))
                .putMetadata("version", "12").putMetadata("optimizer", "adam");
        List<String> atCheckpoint;
        List<String> atEnd;
        try (Table t = TestItems.open(dir, config)) {
            assertTrue(t.lastCallerState().isEmpty());
            for (int i = 0; i < 20; i++) {
                TestItems.insert(t, "i" + i, 1);
            }
            t.sample(5, Duration.ZERO);
            t.remove(List.of("i3")).join();
            t.checkpoint(policy);
            atCheckpoint = TestItems.content(t);
            for (int i = 20; i < 30; i++) {
                TestItems.insert(t, "i" + i, 1);
            }
            t.remove(List.of("i21")).join();
            atEnd = TestItems.content(t);
        }
        try (Table t = TestItems.open(dir, config)) {
            TensorMap back = t.lastCallerState().orElseThrow();
            assertEquals(policy.metadata(), back.metadata());
            assertTrue(policy.get("pi.w").contentEquals(back.get("pi.w")));
            assertEquals(atEnd, TestItems.content(t), "the checkpoint and the log after it");
        }
        // The checkpoint alone holds what the table held when it was taken.
        Path cut = dir.resolve("cut");
        Files.createDirectories(cut);
        try (var files = Files.list(dir)) {
            for (Path p : files.filter(p -> p.getFileName().toString().startsWith("checkpoint-")).toList()) {
                Files.copy(p, cut.resolve(p.getFileName()));
            }
        }
        byte[] log = Files.readAllBytes(dir.resolve(Table.LOG));
        long position = dev.tributary.store.Checkpoints.load(new dev.tributary.store.Checkpoints(cut, 2).list().getFirst()).logPosition();
        Files.write(cut.resolve(Table.LOG), java.util.Arrays.copyOf(log, (int) position));
        try (Table t = TestItems.open(cut, config)) {
            assertEquals(atCheckpoint, TestItems.content(t));
        }
    }

    @Test
    void aFolderIsOpenedByOneTableAtATime() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.fifoQueue(10))) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Table.open(dir, TableConfig.fifoQueue(10), w -> { }));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            assertEquals(0, t.size());
        }
        TestItems.open(dir, TableConfig.fifoQueue(10)).close();
    }

    @Test
    void closeWakesAWaitingSampleAndRefusesWhatComesAfter() throws Exception {
        Table t = TestItems.open(dir, TableConfig.fifoQueue(10));
        CompletableFuture<List<Item>> waiting = new CompletableFuture<>();
        Thread sampler = Thread.ofPlatform().start(() -> {
            try {
                waiting.complete(t.sample(1, Duration.ofSeconds(30)));
            } catch (Throwable e) {
                waiting.completeExceptionally(e);
            }
        });
        // Close only once the sample is really waiting.
        while (sampler.getState() != Thread.State.TIMED_WAITING) {
            assertTrue(sampler.isAlive(), "the sample returned before it waited");
            Thread.sleep(5);
        }
        t.close();
        assertEquals(List.of(), waiting.get(10, TimeUnit.SECONDS));
        assertThrows(IllegalStateException.class, () -> TestItems.insert(t, "a", 1));
        assertThrows(IllegalStateException.class, () -> t.remove(List.of("a")));
        t.close();
    }

    @Test
    void manyThreadsInsertingAndSamplingLeaveEveryAcknowledgedItemOnce() throws Exception {
        TableConfig config = TableConfig.uniformReplay(10_000, 1, 0);
        List<String> acked = java.util.Collections.synchronizedList(new ArrayList<>());
        try (Table t = TestItems.open(dir, config)) {
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 4; w++) {
                int worker = w;
                threads.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; i < 200; i++) {
                        String id = "w" + worker + "/" + (i % 150); // a quarter are retries
                        if (TestItems.insert(t, id, 1)) {
                            acked.add(id);
                        }
                    }
                }));
            }
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    for (int k = 0; k < 100; k++) {
                        t.sample(8, Duration.ofMillis(5));
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            for (Thread th : threads) {
                th.join();
            }
            assertEquals(600, acked.size());
            assertEquals(600, new java.util.HashSet<>(acked).size());
            assertEquals(600, t.size());
        }
        assertEquals(new java.util.HashSet<>(acked), new java.util.HashSet<>(Table.insertedIds(dir)));
        assertEquals(600, Table.insertedIds(dir).size());
    }
}
