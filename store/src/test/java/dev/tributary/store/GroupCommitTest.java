package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Group commit under a fast file system (tmpfs, where fsync returns at once) and under randomized
 * interleavings of the writer and the syncer: every append is acknowledged, in order, and only after a
 * force covered it; an I/O failure fails every pending and later append.
 */
class GroupCommitTest {
    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        Failpoints.install(null);
    }

    /** tmpfs when the machine has one: there fsync is nearly free, which is what exposed a lost wake-up. */
    Path fastDir() throws IOException {
        Path shm = Path.of("/dev/shm");
        if (Files.isDirectory(shm) && Files.isWritable(shm)) {
            Path d = Files.createTempDirectory(shm, "tributary-gc-");
            d.toFile().deleteOnExit();
            return d;
        }
        return dir;
    }

    @Test
    void aLoneAppenderIsAlwaysAcknowledgedOnAFastFileSystem() throws Exception {
        Path file = fastDir().resolve("updates.log");
        try (UpdateLog log = UpdateLog.open(file, 0)) {
            for (int i = 0; i < 2_000; i++) {
                UpdateLog.Appended a = log.append(LogCorruptionTest.record(i % 100));
                try {
                    a.durable().get(5, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("append " + i + " was never acknowledged (lost wake-up)");
                }
                assertTrue(log.durablePosition() >= a.end());
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    @Test
    void randomInterleavingsNeverLoseOrReorderAnAcknowledgment() throws Exception {
        List<Long> forcedUpTo = new ArrayList<>();
        for (int round = 0; round < 20; round++) {
            long seed = round;
            Failpoints.install(point -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                switch (r.nextInt(4)) {
                    case 0 -> Thread.yield();
                    case 1 -> LockSupport.parkNanos(r.nextInt(200_000));
                    default -> { }
                }
            });
            Path file = fastDir().resolve("updates-" + seed + ".log");
            List<UpdateLog.Appended> appended = new ArrayList<>();
            List<Long> completedAt = new ArrayList<>();
            try (UpdateLog log = UpdateLog.open(file, 0)) {
                for (int i = 0; i < 60; i++) {
                    UpdateLog.Appended a = log.append(LogCorruptionTest.record(i));
                    appended.add(a);
                    int k = i;
                    a.durable().thenRun(() -> {
                        synchronized (completedAt) {
                            completedAt.add((long) k);
                        }
                        forcedUpTo.add(log.durablePosition());
                    });
                    if (ThreadLocalRandom.current().nextInt(3) == 0) {
                        a.durable().get(5, TimeUnit.SECONDS);
                    }
                }
                CompletableFuture.allOf(appended.stream().map(UpdateLog.Appended::durable).toArray(CompletableFuture[]::new))
                        .get(10, TimeUnit.SECONDS);
            }
            for (int i = 0; i < completedAt.size(); i++) {
                assertEquals(i, completedAt.get(i), "acknowledgments in log order (seed " + seed + ")");
            }
            assertEquals(60, completedAt.size());
            assertEquals(60, UpdateLogTest.listIds(file).size());
            Files.deleteIfExists(file);
        }
    }

    @Test
    void aFailedForceFailsEveryPendingAndLaterAppendAndNothingIsAcknowledged() throws Exception {
        Path file = dir.resolve("updates.log");
        try (UpdateLog log = UpdateLog.open(file, 0)) {
            log.append(LogCorruptionTest.record(0)).durable().get(5, TimeUnit.SECONDS);
            Failpoints.install(point -> {
                if (point.equals("log.force")) {
                    throw new UncheckedIOException(new IOException("injected: no space left on device"));
                }
            });
            UpdateLog.Appended a = log.append(LogCorruptionTest.record(1));
            ExecutionException e = assertThrows(ExecutionException.class, () -> a.durable().get(5, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("failed"), e.getCause().getMessage());
            assertNotNull(log.failure());
            assertTrue(log.failure().getMessage().contains("no space left"), log.failure().getMessage());
            Failpoints.install(null);
            UpdateLog.Appended later = log.append(LogCorruptionTest.record(2));
            assertThrows(ExecutionException.class, () -> later.durable().get(5, TimeUnit.SECONDS));
            assertTrue(log.durablePosition() < a.end(), "nothing after the failure counts as durable");
        }
    }
}
