package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The log's prefix behind the checkpoints is compacted to ids and configurations, and its disk blocks given back. */
class CompactedLogTest {
    private static final int DELTA_BYTES = 1 << 20;

    @TempDir
    Path dir;

    /** Ends of the records written, in order: record i ends at ends.get(i). */
    final List<Long> ends = new ArrayList<>();
    final List<String> ids = new ArrayList<>();
    final List<byte[]> deltas = new ArrayList<>();

    @AfterEach
    void noHandler() {
        Failpoints.install(null);
    }

    /** A config record, then {@code n} accepted updates of 1 MiB each with a deadline record after every third. */
    Path writeLog(int n) throws IOException {
        return writeLog(n, DELTA_BYTES);
    }

    /** A config record, then {@code n} accepted updates of {@code deltaBytes} each with a deadline record after every third. */
    Path writeLog(int n, int deltaBytes) throws IOException {
        Path log = StateDirectory.log(dir);
        Random r = new Random(7);
        try (UpdateLog l = UpdateLog.open(log, 0)) {
            ends.add(l.append(new StrategyConfig("fedasync", "alpha: 0.5\n")).end());
            for (int i = 0; i < n; i++) {
                byte[] d = new byte[deltaBytes];
                r.nextBytes(d);
                String id = "update-" + i;
                ids.add(id);
                deltas.add(d);
                ends.add(l.append(new AcceptedUpdate(id, "w" + (i % 3), i, 10 + i, 2, Map.of("loss", 0.5 / (i + 1)), i + 1, 1,
                        MemorySegment.ofArray(d))).end());
                if (i % 3 == 2) {
                    ends.add(l.append(new DeadlinePassed(i + 1)).end());
                }
            }
            l.append(new DeadlinePassed(n)).durable().join();
        }
        return log;
    }

    /** The end of accepted update {@code i}'s record. */
    long endOfUpdate(int i) {
        return ends.get(1 + i + i / 3);
    }

    static byte[] bytes(Path file) throws IOException {
        return Files.readAllBytes(file);
    }

    @Test
    void aCompactionKeepsEveryIdAndConfigurationAndGivesTheDeltasBlocksBack() throws Exception {
        Path log = writeLog(8);
        long size = Files.size(log);
        long before = DiskUsage.allocated(log);
        long upTo = endOfUpdate(4);

        CompactedLog.Compacted c = CompactedLog.compact(StateDirectory.log(dir), upTo, 1);

        assertEquals(0, c.chunk().from());
        assertEquals(upTo, c.chunk().to());
        assertEquals(6, c.records(), "the configuration and 5 accepted updates; deadlines are dropped");
        assertEquals(upTo, CompactedLog.end(StateDirectory.log(dir)));
        assertEquals(size, Files.size(log), "the log keeps its size, so every offset stays where it was");
        List<LogRecord> kept = new ArrayList<>();
        CompactedLog.scan(StateDirectory.log(dir), (start, end, rec) -> {
            assertEquals(0, start);
            assertEquals(upTo, end);
            kept.add(rec);
        });
        assertEquals(new StrategyConfig("fedasync", "alpha: 0.5\n"), kept.getFirst());
        for (int i = 0; i < 5; i++) {
            AcceptedUpdate a = (AcceptedUpdate) kept.get(1 + i);
            assertEquals(ids.get(i), a.updateId());
            assertEquals(i + 1, a.version());
            assertEquals(10 + i, a.examples());
            assertEquals(0, a.delta().byteSize(), "the delta is what goes");
        }
        // What follows is read from the log as it was, deltas intact.
        List<String> after = new ArrayList<>();
        LogScan.scan(log, CompactedLog.end(StateDirectory.log(dir)), Long.MAX_VALUE, (start, end, rec) -> {
            if (rec instanceof AcceptedUpdate a) {
                int i = ids.indexOf(a.updateId());
                assertArrayEquals(deltas.get(i), a.delta().toArray(ValueLayout.JAVA_BYTE));
                after.add(a.updateId());
            }
        });
        assertEquals(ids.subList(5, 8), after);
        assertEquals(ids, StateDirectory.acceptedUpdateIds(dir));
        if (c.punched()) {
            long freed = before - DiskUsage.allocated(log);
            assertTrue(freed >= upTo - 2 * CompactedLog.BLOCK, "freed " + freed + " of " + upTo + " compacted bytes");
            byte[] zeros = new byte[(int) (upTo / CompactedLog.BLOCK * CompactedLog.BLOCK)];
            byte[] head = new byte[zeros.length];
            System.arraycopy(bytes(log), 0, head, 0, head.length);
            assertArrayEquals(zeros, head, "the punched prefix reads back as zeros");
        } else {
            System.out.println("CompactedLogTest: the file system under " + dir + " cannot punch holes; blocks not checked");
        }
    }

    @Test
    void aLaterCompactionContinuesWhereTheLastEndedAndNeverRewritesIt() throws Exception {
        Path log = writeLog(8);
        CompactedLog.Compacted first = CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(2), 1);
        byte[] firstChunk = bytes(first.chunk().file());
        CompactedLog.Compacted second = CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(6), 1);

        assertEquals(endOfUpdate(2), second.chunk().from());
        assertEquals(endOfUpdate(6), second.chunk().to());
        assertEquals(4, second.records(), "updates 3 to 6");
        assertArrayEquals(firstChunk, bytes(first.chunk().file()));
        assertEquals(List.of(first.chunk(), second.chunk()), CompactedLog.chunks(StateDirectory.log(dir)));
        assertEquals(ids, StateDirectory.acceptedUpdateIds(dir));
        assertNull(CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(6), 1), "nothing left before that offset");
        assertNull(CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(7), 2L * DELTA_BYTES), "less than the least size is left as it is");
        assertEquals(2, CompactedLog.chunks(StateDirectory.log(dir)).size());
        assertTrue(Files.size(log) > endOfUpdate(7));
    }

    /** What the log's owner does while a reader reads. */
    @FunctionalInterface
    interface OwnerStep {
        void run() throws IOException;
    }

    /**
     * The ids a reader of the whole {@code log} lists when {@code owner} runs once, inside the read, at the
     * first record visited from offset {@code at} on; {@code restarts[0]} counts how often the read started again.
     */
    static List<String> readWhile(Path log, long at, OwnerStep owner, int[] restarts) throws IOException {
        boolean[] done = {false};
        List<String> seen = new ArrayList<>();
        CompactedLog.scanAll(log, () -> {
            restarts[0]++;
            seen.clear();
        }, (start, end, rec) -> {
            if (rec instanceof AcceptedUpdate a) {
                seen.add(a.updateId());
            }
            if (start >= at && !done[0]) {
                done[0] = true;
                owner.run();
            }
        });
        return seen;
    }

    /** Compacts {@code log} one update at a time up to update {@code last}: one chunk each. */
    void compactEachUpTo(Path log, int last) throws IOException {
        for (int i = 0; i <= last; i++) {
            CompactedLog.compact(log, endOfUpdate(i), 1);
        }
    }

    @Test
    void aReaderThatACompactionOvertakesStartsAgainAndListsEveryIdOnce() throws Exception {
        Path log = writeLog(8);
        CompactedLog.compact(log, endOfUpdate(1), 1);
        int[] restarts = {0};
        // The owner compacts past what this reader is about to read.
        List<String> seen = readWhile(log, endOfUpdate(1),
                () -> assertTrue(CompactedLog.compact(log, endOfUpdate(5), 1).punched() || !HolePunch.available()), restarts);
        assertEquals(ids, seen);
        if (HolePunch.available()) {
            assertEquals(1, restarts[0], "the punched records read as zeros once, then the read started again");
        }
    }

    @Test
    void aReaderThatAFoldOvertakesStartsAgainAndMissesNoId() throws Exception {
        Path log = writeLog(CompactedLog.MAX_CHUNKS + 4);
        compactEachUpTo(log, CompactedLog.MAX_CHUNKS);
        int[] restarts = {0};
        // The owner folds the chunks (deleting them) while this reader is at the first.
        List<String> seen = readWhile(log, 0, () -> assertTrue(CompactedLog.merge(log)), restarts);
        assertEquals(ids, seen);
        assertEquals(1, restarts[0], "the deleted chunks were read again from the fold");
    }

    @Test
    void moreThanSixteenChunksAreFoldedIntoOneAndACrashInTheFoldLosesNothing() throws Exception {
        Path log = writeLog(CompactedLog.MAX_CHUNKS + 4);
        compactEachUpTo(log, CompactedLog.MAX_CHUNKS);
        assertEquals(CompactedLog.MAX_CHUNKS + 1, CompactedLog.chunks(log).size());
        long end = CompactedLog.end(log);
        long records = CompactedLog.chunks(log).stream().mapToLong(CompactedLog.Chunk::records).sum();
        Failpoints.install(name -> {
            if (name.equals("compact.merged")) {
                throw new IllegalStateException("crash at " + name);
            }
        });
        assertThrows(IllegalStateException.class, () -> CompactedLog.merge(log));
        Failpoints.install(null);
        // Both the fold and the chunks it replaced are on disk: the fold wins, the rest is passed over, then removed.
        assertEquals(List.of(new CompactedLog.Chunk(dir.resolve(CompactedLog.prefix(log) + String.format("%016d-%016d-%d.log", 0, end,
                records)), 0, end, records)), CompactedLog.chunks(log));
        assertEquals(ids, StateDirectory.acceptedUpdateIds(dir));
        CompactedLog.removeLeftovers(log);
        try (var s = Files.list(dir)) {
            assertEquals(1, s.filter(p -> p.getFileName().toString().startsWith(CompactedLog.prefix(log))).count());
        }
        CompactedLog.compact(log, endOfUpdate(CompactedLog.MAX_CHUNKS + 2), 1);
        assertEquals(2, CompactedLog.chunks(log).size());
        assertEquals(ids, StateDirectory.acceptedUpdateIds(dir));
        assertFalse(CompactedLog.merge(log), "two chunks are left as they are");
    }

    @Test
    void aStepReadsAboutStepBytesAndTheNextStepsGoOnWhereItStopped() throws Exception {
        Path log = writeLog(4);
        // A step stops at the end of the first record reaching STEP_BYTES past its start; with 1 MiB records
        // and STEP_BYTES 1 GiB all of these fit one step: checked through the chunk bounds.
        assertEquals(endOfUpdate(3), LogScan.scanRange(log, 0, endOfUpdate(3), Long.MAX_VALUE, (s, e, r) -> { }));
        assertEquals(endOfUpdate(1), LogScan.scanRange(log, endOfUpdate(0), endOfUpdate(3), endOfUpdate(0) + 10,
                (s, e, r) -> { }), "stops after the record that reaches the step's end");
        CompactedLog.Compacted c = CompactedLog.compact(log, endOfUpdate(3), 1);
        assertEquals(endOfUpdate(3), c.chunk().to());
    }

    @Test
    void anOffsetInsideARecordIsRefusedAndNothingChanges() throws Exception {
        Path log = writeLog(4);
        byte[] was = bytes(log);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(1) + 100, 1));
        assertTrue(e.getMessage().contains("runs across offset " + (endOfUpdate(1) + 100)), e.getMessage());
        assertArrayEquals(was, bytes(log));
        assertEquals(List.of(), CompactedLog.chunks(StateDirectory.log(dir)));
        try (var s = Files.list(dir)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "the temporary chunk is removed");
        }
    }

    @Test
    void damageInThePrefixStopsTheCompactionBeforeAnythingIsWrittenOrFreed() throws Exception {
        Path log = writeLog(6);
        long at = endOfUpdate(1) + 500; // inside update 2's delta
        byte[] b = bytes(log);
        b[(int) at] ^= 0x01;
        Files.write(log, b);
        LogCorruptException e = assertThrows(LogCorruptException.class,
                () -> CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(4), 1));
        assertEquals(endOfUpdate(1), e.offset(), e.getMessage());
        assertTrue(e.getMessage().contains("CRC32C"), e.getMessage());
        assertEquals(List.of(), CompactedLog.chunks(StateDirectory.log(dir)));
        assertArrayEquals(b, bytes(log), "nothing punched");
        try (var s = Files.list(dir)) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
        }
    }

    @Test
    void aCrashAtEveryPointOfACompactionLosesNoIdAndTheNextCompactionFinishesTheJob() throws Exception {
        for (String point : List.of("compact.write", "compact.rename", "compact.renamed", "compact.punched")) {
            Path state = dir.resolve(point);
            Files.createDirectories(state);
            Path log = state.resolve(StateDirectory.LOG);
            ends.clear();
            ids.clear();
            deltas.clear();
            Path written = writeLog(6);
            Files.move(written, log);
            Failpoints.install(name -> {
                if (name.equals(point)) {
                    throw new IllegalStateException("crash at " + point);
                }
            });
            assertThrows(IllegalStateException.class, () -> CompactedLog.compact(StateDirectory.log(state), endOfUpdate(2), 1), point);
            Failpoints.install(null);
            // What a restart finds: a leftover temporary file at most, which it removes.
            CompactedLog.removeLeftovers(StateDirectory.log(state));
            long end = CompactedLog.end(StateDirectory.log(state));
            assertTrue(end == 0 || end == endOfUpdate(2), point + ": compacted end " + end);
            assertEquals(ids, StateDirectory.acceptedUpdateIds(state), point);
            CompactedLog.Compacted next = CompactedLog.compact(StateDirectory.log(state), endOfUpdate(4), 1);
            assertEquals(endOfUpdate(4), CompactedLog.end(StateDirectory.log(state)), point);
            assertEquals(end, next.chunk().from(), point);
            assertEquals(ids, StateDirectory.acceptedUpdateIds(state), point);
            try (var s = Files.list(state)) {
                assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), point);
            }
        }
    }

    @Test
    void aDamagedCutOrMissingChunkIsReportedNeverSkipped() throws Exception {
        writeLog(8);
        CompactedLog.Compacted first = CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(2), 1);
        CompactedLog.Compacted second = CompactedLog.compact(StateDirectory.log(dir), endOfUpdate(5), 1);
        Path chunk = second.chunk().file();
        byte[] good = bytes(chunk);

        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x40;
        Files.write(chunk, flipped);
        LogCorruptException damaged = assertThrows(LogCorruptException.class, () -> StateDirectory.acceptedUpdateIds(dir));
        assertEquals(chunk, damaged.file());

        try (FileChannel ch = FileChannel.open(chunk, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(good), 0);
            ch.truncate(good.length - 5);
        }
        LogCorruptException cut = assertThrows(LogCorruptException.class, () -> CompactedLog.scan(StateDirectory.log(dir), (s, e, r) -> { }));
        assertTrue(cut.getMessage().contains("ends inside a record"), cut.getMessage());

        Files.write(chunk, good);
        assertEquals(ids, StateDirectory.acceptedUpdateIds(dir));
        Files.delete(first.chunk().file());
        LogCorruptException gap = assertThrows(LogCorruptException.class, () -> CompactedLog.end(StateDirectory.log(dir)));
        assertTrue(gap.getMessage().contains("expected one starting at offset 0"), gap.getMessage());
    }

    /** Every record of every chunk, in order. */
    static List<LogRecord> chunkRecords(Path log) throws IOException {
        List<LogRecord> out = new ArrayList<>();
        CompactedLog.scan(log, (start, end, rec) -> out.add(rec));
        return out;
    }

    static long salvagedRecords(Path log) throws IOException {
        return chunkRecords(log).stream().filter(r -> r instanceof Salvaged).count();
    }

    @Test
    void theExplicitSalvageRepairsADamagedOrCutChunkAndWritesAMissingOneAgain() throws Exception {
        Path log = writeLog(9);
        byte[] original = bytes(log);
        CompactedLog.Compacted first = CompactedLog.compact(log, endOfUpdate(2), 1);
        CompactedLog.Compacted second = CompactedLog.compact(log, endOfUpdate(5), 1);
        CompactedLog.Compacted third = CompactedLog.compact(log, endOfUpdate(7), 1);
        assertTrue(LogSalvage.salvageAll(log).intact(), "nothing to repair in an intact log");
        List<String> expected = new ArrayList<>(ids);

        // One record damaged in the middle chunk (updates 3, 4 and 5, records of one size): update 4 alone goes.
        Path middle = second.chunk().file();
        byte[] good = bytes(middle);
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x40;
        Files.write(middle, flipped);
        LogSalvage.Repair r = LogSalvage.salvageAll(log);
        assertEquals(List.of(), r.restored());
        assertEquals(1, r.dropped().size(), r.dropped().toString());
        LogSalvage.Dropped d = r.dropped().getFirst();
        assertEquals(middle, d.file());
        assertEquals("update-4", d.updateId());
        assertFalse(d.cut());
        assertTrue(Files.exists(d.savedTo()), "the damaged bytes are kept");
        expected.remove("update-4");
        assertEquals(expected, StateDirectory.acceptedUpdateIds(dir));
        assertEquals(1, salvagedRecords(log));
        assertEquals(good.length, Files.size(middle), "the record is replaced in place");

        // The last chunk cut inside its last record (update 7): cut there, and marked as salvaged.
        Path last = third.chunk().file();
        try (FileChannel ch = FileChannel.open(last, StandardOpenOption.WRITE)) {
            ch.truncate(Files.size(last) - 5);
        }
        r = LogSalvage.salvageAll(log);
        assertEquals(1, r.dropped().size(), r.dropped().toString());
        assertTrue(r.dropped().getFirst().cut());
        expected.remove("update-7");
        assertEquals(expected, StateDirectory.acceptedUpdateIds(dir));
        assertEquals(2, salvagedRecords(log), "recovery must see that the cut chunk misses records");

        // The first chunk deleted: written again from the log's bytes where they are still there, else marked lost.
        Files.delete(first.chunk().file());
        r = LogSalvage.salvageAll(log);
        assertEquals(1, r.restored().size());
        CompactedLog.Restored restored = r.restored().getFirst();
        assertEquals(0, restored.chunk().from());
        assertEquals(endOfUpdate(2), restored.chunk().to());
        assertEquals(first.punched() ? 1 : 4, restored.chunk().records(), "a Salvaged record, or what the chunk held");
        assertEquals(!first.punched(), restored.fromLog(), "only unpunched bytes can be compacted again");
        if (first.punched()) {
            List<String> lost = new ArrayList<>(expected);
            lost.removeAll(List.of("update-0", "update-1", "update-2"));
            assertEquals(lost, StateDirectory.acceptedUpdateIds(dir));
            assertEquals(3, salvagedRecords(log));
            // The log's bytes back (as if never punched), the chunk lost again: now its records come back.
            try (FileChannel ch = FileChannel.open(log, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(original, 0, (int) endOfUpdate(2)), 0);
            }
            Files.delete(restored.chunk().file());
            r = LogSalvage.salvageAll(log);
            restored = r.restored().getFirst();
            assertTrue(restored.fromLog());
            assertEquals(first.chunk(), restored.chunk(), "the same chunk, under the same name");
        }
        assertEquals(4, restored.records(), "the configuration and updates 0, 1 and 2");
        assertEquals(expected, StateDirectory.acceptedUpdateIds(dir));
        assertEquals(new StrategyConfig("fedasync", "alpha: 0.5\n"), chunkRecords(log).getFirst());
        assertEquals(endOfUpdate(7), CompactedLog.end(log));
        assertTrue(LogSalvage.salvageAll(log).intact(), "a repaired log needs no second repair");
    }

    @Test
    void aChunkCutAtARecordBoundaryIsCaughtByTheCountInItsNameAndSalvaged() throws Exception {
        Path log = writeLog(8);
        CompactedLog.compact(log, endOfUpdate(2), 1);
        CompactedLog.Compacted second = CompactedLog.compact(log, endOfUpdate(5), 1);
        Path chunk = second.chunk().file();
        assertEquals(3, second.chunk().records(), "updates 3, 4 and 5");
        assertTrue(chunk.getFileName().toString().endsWith("-3.log"), chunk.toString());
        List<Long> recordEnds = new ArrayList<>();
        LogScan.scan(chunk, (start, end, rec) -> recordEnds.add(end));
        assertEquals(3, recordEnds.size());

        // Its last whole record gone: every record left is intact, only the count can tell.
        try (FileChannel ch = FileChannel.open(chunk, StandardOpenOption.WRITE)) {
            ch.truncate(recordEnds.get(1));
        }
        LogCorruptException e = assertThrows(LogCorruptException.class, () -> StateDirectory.acceptedUpdateIds(dir));
        assertEquals(chunk, e.file());
        assertTrue(e.getMessage().contains("holds 2 records where its name says 3"), e.getMessage());

        LogSalvage.Repair r = LogSalvage.salvageAll(log);
        assertEquals(1, r.dropped().size(), r.dropped().toString());
        LogSalvage.Dropped d = r.dropped().getFirst();
        assertTrue(d.cut());
        assertNull(d.savedTo(), "no bytes were left to keep");
        assertTrue(d.describe().contains("the chunk holds 2 records where its name says 3: the rest are lost"), d.describe());
        List<String> expected = new ArrayList<>(ids);
        expected.remove("update-5");
        assertEquals(expected, StateDirectory.acceptedUpdateIds(dir));
        assertEquals(1, salvagedRecords(log), "recovery must see that the chunk misses records");
        assertEquals(second.chunk(), CompactedLog.chunks(log).get(1), "two updates and the Salvaged record: 3 again");
        assertTrue(LogSalvage.salvageAll(log).intact(), "a repaired log needs no second repair");

        // Emptied altogether: caught the same way.
        Files.write(chunk, new byte[0]);
        e = assertThrows(LogCorruptException.class, () -> StateDirectory.acceptedUpdateIds(dir));
        assertTrue(e.getMessage().contains("holds 0 records where its name says 3"), e.getMessage());
    }

    @Test
    void aChunkNamedWithoutItsCountIsReadAsBeforeAndNamedWithItOnceSalvaged() throws Exception {
        Path log = writeLog(8);
        CompactedLog.Compacted c = CompactedLog.compact(log, endOfUpdate(4), 1);
        Path legacy = c.chunk().file().resolveSibling(c.chunk().file().getFileName().toString().replaceFirst("-\\d+\\.log$", ".log"));
        Files.move(c.chunk().file(), legacy);
        assertEquals(new CompactedLog.Chunk(legacy, 0, endOfUpdate(4), -1), CompactedLog.chunks(log).getFirst());
        assertEquals(ids, StateDirectory.acceptedUpdateIds(dir));
        assertTrue(LogSalvage.salvageAll(log).intact(), "an intact chunk keeps its name");
        assertTrue(Files.exists(legacy));

        byte[] bad = bytes(legacy);
        bad[bad.length / 2] ^= 0x40;
        Files.write(legacy, bad);
        LogSalvage.Repair r = LogSalvage.salvageAll(log);
        assertEquals(1, r.dropped().size(), r.dropped().toString());
        assertEquals(6, CompactedLog.chunks(log).getFirst().records(), "the configuration, four updates and a Salvaged record");
        assertFalse(Files.exists(legacy));
    }
}
