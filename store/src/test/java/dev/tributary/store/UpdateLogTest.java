package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.TestModels;
import dev.tributary.tensor.Safetensors;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpdateLogTest {
    @TempDir
    Path dir;

    private static AcceptedUpdate record(int i) {
        MemorySegment delta = Safetensors.encode(TestModels.delta(i, 0.1f), Map.of(), Arena.ofAuto());
        return new AcceptedUpdate(UUID.nameUUIDFromBytes(new byte[] {(byte) i}).toString(), "worker-" + i, i, 10L * i, i + 1,
                Map.of("loss", 1.0 / (i + 1)), i + 1, 1, delta);
    }

    private record Seen(long start, long end, AcceptedUpdate r, byte[] delta) {}

    private static List<Seen> scanAll(Path file, long ignored, LogScan.Result[] result) throws IOException {
        List<Seen> out = new ArrayList<>();
        result[0] = LogScan.scan(file, (s, e, rec) -> {
            AcceptedUpdate r = (AcceptedUpdate) rec;
            out.add(new Seen(s, e, r, r.delta().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
        });
        return out;
    }

    @Test
    void appendedRecordsComeBackInOrderWithTheirContent() throws IOException {
        Path file = dir.resolve("updates.log");
        List<UpdateLog.Appended> appended = new ArrayList<>();
        try (UpdateLog log = UpdateLog.open(file, 0)) {
            for (int i = 0; i < 20; i++) {
                appended.add(log.append(record(i)));
            }
            CompletableFuture.allOf(appended.stream().map(UpdateLog.Appended::durable).toArray(CompletableFuture[]::new)).join();
            assertEquals(log.end(), log.durablePosition());
            // The syncer forces after a write moved the end, never more often: each small record is written in two
            // slices (its head, then its delta), so at most 40 forces for 20 records, however the threads interleave.
            assertTrue(log.syncCount() >= 1 && log.syncCount() <= 2 * 20, "at most one fsync per slice: " + log.syncCount());
        }
        LogScan.Result[] res = new LogScan.Result[1];
        List<Seen> seen = scanAll(file, 0, res);
        assertEquals(20, seen.size());
        assertNull(res[0].tornReason());
        for (int i = 0; i < 20; i++) {
            AcceptedUpdate want = record(i);
            AcceptedUpdate got = seen.get(i).r();
            assertEquals(want.updateId(), got.updateId());
            assertEquals(want.workerId(), got.workerId());
            assertEquals(want.baseVersion(), got.baseVersion());
            assertEquals(want.examples(), got.examples());
            assertEquals(want.localSteps(), got.localSteps());
            assertEquals(want.metrics(), got.metrics());
            assertEquals(want.version(), got.version());
            assertEquals(want.staleness(), got.staleness());
            assertEquals(-1, MemorySegment.ofArray(seen.get(i).delta()).mismatch(want.delta()));
            assertEquals(appended.get(i).start(), seen.get(i).start());
            assertEquals(appended.get(i).end(), seen.get(i).end());
        }
    }

    @Test
    void aTornTailAtAnyCutIsDroppedAndAppendingResumesAfterTheLastWholeRecord() throws IOException {
        Path file = dir.resolve("updates.log");
        List<UpdateLog.Appended> appended = new ArrayList<>();
        try (UpdateLog log = UpdateLog.open(file, 0)) {
            for (int i = 0; i < 3; i++) {
                appended.add(log.append(record(i)));
            }
        }
        long full = Files.size(file);
        long lastStart = appended.get(2).start();
        byte[] bytes = Files.readAllBytes(file);
        for (long cut = lastStart + 1; cut < full; cut += 7) {
            Path torn = dir.resolve("torn-" + cut);
            Files.write(torn, java.util.Arrays.copyOf(bytes, (int) cut));
            LogScan.Result[] res = new LogScan.Result[1];
            List<Seen> seen = scanAll(torn, 0, res);
            assertEquals(2, seen.size(), "cut at " + cut);
            assertEquals(lastStart, res[0].validEnd());
            assertNotNull(res[0].tornReason());
            try (UpdateLog log = UpdateLog.open(torn, res[0].validEnd())) {
                log.append(record(9)).durable().join();
            }
            List<Seen> after = scanAll(torn, 0, res);
            assertEquals(List.of(record(0).updateId(), record(1).updateId(), record(9).updateId()),
                    after.stream().map(s -> s.r().updateId()).toList());
        }
    }

    static List<String> listIds(Path file) throws IOException {
        List<String> ids = new ArrayList<>();
        LogScan.scan(file, (s, e, r) -> {
            if (r instanceof AcceptedUpdate a) {
                ids.add(a.updateId());
            }
        });
        return ids;
    }

    @Test
    void aMissingLogIsEmptyAndAClosedLogRefusesAppends() throws IOException {
        LogScan.Result[] res = new LogScan.Result[1];
        assertEquals(0, scanAll(dir.resolve("none.log"), 0, res).size());
        assertEquals(0, res[0].validEnd());
        UpdateLog log = UpdateLog.open(dir.resolve("x.log"), 0);
        log.close();
        assertThrows(IllegalStateException.class, () -> log.append(record(0)));
    }

    @Test
    void stateDirectoryListsAcceptedIdsInOrder() throws IOException {
        try (UpdateLog log = UpdateLog.open(StateDirectory.log(dir), 0)) {
            for (int i = 0; i < 5; i++) {
                log.append(record(i));
            }
        }
        assertEquals(List.of(0, 1, 2, 3, 4).stream().map(i -> record(i).updateId()).toList(),
                StateDirectory.acceptedUpdateIds(dir));
    }
}
