package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.Checkpoints;
import dev.tributary.store.DeadlinePassed;
import dev.tributary.store.ExperienceInserted;
import dev.tributary.store.ExperienceRemoved;
import dev.tributary.store.LogCorruptException;
import dev.tributary.store.LogRecord;
import dev.tributary.store.LogScan;
import dev.tributary.store.UpdateLog;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage to any kind of record of a table's log stops recovery with the file, offset and reason, changing
 * nothing; so does a log that contradicts itself or its checkpoint. A damaged checkpoint is skipped with a
 * warning, and the log brings the table back all the same. Only a torn last record is dropped, with a
 * warning.
 */
class CorruptionTest {
    static final TableConfig CONFIG = TableConfig.uniformReplay(6, 1, 0);

    @TempDir
    Path dir;

    record Span(long start, long end, String kind) {}

    /** A table whose log holds inserts, samples, removals and evictions; returns each record's span. */
    List<Span> build(Path d) throws Exception {
        try (Table t = TestItems.open(d, CONFIG)) {
            for (int i = 0; i < 8; i++) {
                TestItems.insert(t, "i" + i, 1);
            }
            t.sample(3, Duration.ZERO);
            t.remove(List.of("i4")).join();
        }
        List<Span> spans = new ArrayList<>();
        LogScan.scan(d.resolve(Table.LOG), (s, e, r) -> spans.add(new Span(s, e, kind(r))));
        return spans;
    }

    static String kind(LogRecord r) {
        return r instanceof ExperienceRemoved x ? "removed-" + x.cause() : r.getClass().getSimpleName();
    }

    @Test
    void aFlippedByteInAnyKindOfRecordStopsRecoveryNamingItAndChangesNothing() throws Exception {
        Path clean = dir.resolve("clean");
        List<Span> spans = build(clean);
        assertEquals(List.of("ExperienceInserted", "removed-EVICTED", "ExperienceSampled", "removed-REMOVED"),
                spans.stream().map(Span::kind).distinct().sorted((a, b) -> order(a) - order(b)).toList());
        byte[] log = Files.readAllBytes(clean.resolve(Table.LOG));
        for (int k = 0; k < spans.size() - 1; k++) {
            Span s = spans.get(k);
            for (long at : new long[] {s.start() + 2, s.start() + 16, (s.start() + s.end()) / 2, s.end() - 1}) {
                Path d = dir.resolve("bad-" + k + "-" + at);
                Files.createDirectories(d);
                byte[] bad = log.clone();
                bad[(int) at] ^= 0x04;
                Files.write(d.resolve(Table.LOG), bad);
                LogCorruptException e = assertThrows(LogCorruptException.class, () -> Table.open(d, CONFIG, w -> { }),
                        s.kind() + " flipped at +" + (at - s.start()));
                assertEquals(s.start(), e.offset(), s.kind());
                assertEquals(k, e.record());
                assertThrows(LogCorruptException.class, () -> Table.insertedIds(d));
                assertArrayEquals(bad, Files.readAllBytes(d.resolve(Table.LOG)), "recovery changed the log");
            }
        }
    }

    static int order(String kind) {
        return List.of("ExperienceInserted", "removed-EVICTED", "ExperienceSampled", "removed-REMOVED").indexOf(kind);
    }

    void forge(Path d, LogRecord... records) throws IOException {
        Files.createDirectories(d);
        try (UpdateLog log = UpdateLog.open(d.resolve(Table.LOG), 0)) {
            for (LogRecord r : records) {
                log.append(r);
            }
        }
    }

    static ExperienceInserted item(String id) {
        return new ExperienceInserted(id, 0, 1, TestItems.payload(1, 150));
    }

    @Test
    void aLogThatContradictsItselfIsReportedNotReplayed() throws IOException {
        Path twice = dir.resolve("twice");
        forge(twice, item("a"), item("b"), item("a"));
        LogCorruptException e = assertThrows(LogCorruptException.class, () -> Table.open(twice, CONFIG, w -> { }));
        assertEquals(2, e.record());
        assertTrue(e.getMessage().contains("item a is inserted a second time"), e.getMessage());

        Path ghost = dir.resolve("ghost");
        forge(ghost, item("a"), new ExperienceRemoved(ExperienceRemoved.Cause.REMOVED, List.of("a", "b")));
        e = assertThrows(LogCorruptException.class, () -> Table.open(ghost, CONFIG, w -> { }));
        assertTrue(e.getMessage().contains("removes item b, which is not in the table"), e.getMessage());

        Path coordinator = dir.resolve("coordinator");
        forge(coordinator, new DeadlinePassed(3));
        IOException io = assertThrows(IOException.class, () -> Table.open(coordinator, CONFIG, w -> { }));
        assertTrue(io.getMessage().contains("not an experience table's log"), io.getMessage());
    }

    /** A table with two checkpoints (caller states 1 and 2) and records after the newest. */
    List<String> withCheckpoints(Path d) throws Exception {
        try (Table t = TestItems.open(d, CONFIG)) {
            for (int i = 0; i < 5; i++) {
                TestItems.insert(t, "i" + i, 1);
            }
            t.checkpoint(caller(1));
            for (int i = 5; i < 9; i++) {
                TestItems.insert(t, "i" + i, 1);
            }
            t.sample(2, Duration.ZERO);
            t.checkpoint(caller(2));
            TestItems.insert(t, "i9", 1);
            t.remove(List.of("i7")).join();
            return TestItems.content(t);
        }
    }

    static TensorMap caller(int v) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {1}, v)).putMetadata("version", Integer.toString(v));
    }

    @Test
    void aDamagedCheckpointIsSkippedWithAWarningAndTheLogBringsTheTableBack() throws Exception {
        List<String> expected = withCheckpoints(dir);
        List<Path> files = new Checkpoints(dir, 2).list();
        assertEquals(2, files.size());
        byte[] newest = Files.readAllBytes(files.getFirst());
        for (int at : new int[] {12, newest.length / 2, newest.length - 1}) {
            byte[] bad = newest.clone();
            bad[at] ^= 0x01;
            Files.write(files.getFirst(), bad);
            List<String> warnings = new ArrayList<>();
            try (Table t = Table.open(dir, CONFIG, warnings::add)) {
                assertEquals(expected, TestItems.content(t), "flipped at " + at);
                assertEquals("1", t.lastCallerState().orElseThrow().metadata().get("version"), "the older checkpoint's state");
            }
            assertEquals(1, warnings.size(), warnings.toString());
            assertTrue(warnings.getFirst().startsWith("checkpoint " + files.getFirst().getFileName() + " skipped: "), warnings.toString());
        }
        Files.write(files.get(1), new byte[] {1, 2, 3});
        List<String> warnings = new ArrayList<>();
        try (Table t = Table.open(dir, CONFIG, warnings::add)) {
            assertEquals(expected, TestItems.content(t), "from the log alone");
            assertTrue(t.lastCallerState().isEmpty());
        }
        assertEquals(2, warnings.size(), warnings.toString());
        Files.write(files.getFirst(), newest);
        try (Table t = TestItems.open(dir, CONFIG)) {
            assertEquals("2", t.lastCallerState().orElseThrow().metadata().get("version"));
        }
    }

    @Test
    void aCheckpointTheLogDoesNotReachOrThatIsOfAnotherLogStopsRecovery() throws Exception {
        withCheckpoints(dir);
        byte[] log = Files.readAllBytes(dir.resolve(Table.LOG));
        Path cut = dir.resolve("cut");
        Files.createDirectories(cut);
        Path newest = new Checkpoints(dir, 2).list().getFirst();
        Files.copy(newest, cut.resolve(newest.getFileName()));
        long position = Checkpoints.load(newest).logPosition();
        Files.write(cut.resolve(Table.LOG), Arrays.copyOf(log, (int) position - 20));
        IOException e = assertThrows(IOException.class, () -> Table.open(cut, CONFIG, w -> { }));
        assertTrue(e.getMessage().contains("before the position " + position), e.getMessage());

        Path other = dir.resolve("other");
        forge(other, item("x"), item("y"), item("z"), item("a"), item("b"), item("c"), item("d"), item("e"), item("f"),
                item("g"), item("h"), item("k"));
        Files.copy(newest, other.resolve(newest.getFileName()));
        e = assertThrows(IOException.class, () -> Table.open(other, CONFIG, w -> { }));
        assertTrue(e.getMessage().contains("not of this log"), e.getMessage());
    }

    @Test
    void afterAnExplicitSalvageTheTableOpensWithoutTheItemsItListed() throws Exception {
        try (Table t = TestItems.open(dir, CONFIG)) {
            for (String id : List.of("a", "b", "c", "d")) {
                TestItems.insert(t, id, 1);
            }
            t.checkpoint(caller(1));
            TestItems.insert(t, "e", 1);
            t.remove(List.of("b", "e")).join();
        }
        List<Span> spans = new ArrayList<>();
        LogScan.scan(dir.resolve(Table.LOG), (s, e, r) -> spans.add(new Span(s, e, kind(r))));
        byte[] log = Files.readAllBytes(dir.resolve(Table.LOG));
        log[(int) spans.get(1).end() - 2] ^= 1; // item b's payload, before the checkpoint
        log[(int) spans.get(4).end() - 2] ^= 1; // item e's payload, after it
        Files.write(dir.resolve(Table.LOG), log);
        assertThrows(LogCorruptException.class, () -> Table.open(dir, CONFIG, w -> { }));
        List<dev.tributary.store.LogSalvage.Dropped> dropped = dev.tributary.store.LogSalvage.salvage(dir.resolve(Table.LOG));
        assertEquals(List.of("b", "e"), dropped.stream().map(dev.tributary.store.LogSalvage.Dropped::updateId).toList());
        List<String> warnings = new ArrayList<>();
        try (Table t = Table.open(dir, CONFIG, warnings::add)) {
            // b came back from the checkpoint and its removal replayed; e's insert was salvaged away.
            assertEquals(List.of("a", "c", "d"), t.snapshot().stream().map(Item::id).toList());
        }
        assertTrue(warnings.stream().anyMatch(w -> w.contains("removal of [e] skipped")), warnings.toString());
        assertEquals(List.of("a", "c", "d"), Table.insertedIds(dir));
    }

    @Test
    void onlyATornLastRecordIsDroppedAndItIsSaid() throws Exception {
        List<String> expected = withCheckpoints(dir);
        byte[] log = Files.readAllBytes(dir.resolve(Table.LOG));
        byte[] torn = Arrays.copyOf(log, log.length + 30);
        System.arraycopy(log, 0, torn, log.length, 30); // the start of a record, cut short
        Files.write(dir.resolve(Table.LOG), torn);
        Files.write(dir.resolve("checkpoint-0000000000000099-0000000000000099.safetensors.tmp"), new byte[] {7});
        List<String> warnings = new ArrayList<>();
        try (Table t = Table.open(dir, CONFIG, warnings::add)) {
            assertEquals(expected, TestItems.content(t));
        }
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.getFirst().contains("dropped an incomplete last record (30 bytes, never acknowledged)"), warnings.toString());
        assertEquals(log.length, Files.size(dir.resolve(Table.LOG)));
    }
}
