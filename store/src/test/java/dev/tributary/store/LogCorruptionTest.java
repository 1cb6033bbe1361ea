package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.TestModels;
import dev.tributary.tensor.Safetensors;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage anywhere but an incomplete last record is corruption: reported with the file, the offset and the
 * record, and never cut off. Only the explicit salvage changes the file, and it says what it drops.
 */
class LogCorruptionTest {
    static final int RECORDS = 12;

    @TempDir
    Path dir;

    static AcceptedUpdate record(int i) {
        MemorySegment delta = Safetensors.encode(TestModels.delta(i, 0.1f), Map.of(), Arena.ofAuto());
        return new AcceptedUpdate(UUID.nameUUIDFromBytes(new byte[] {(byte) i}).toString(), "worker-" + i, i, 10, 1,
                Map.of("loss", 0.5), i + 1, 0, delta);
    }

    /** A log of a configuration record, updates and a deadline record; returns each record's start. */
    List<Long> write(Path file) {
        List<Long> starts = new ArrayList<>();
        try (UpdateLog log = UpdateLog.open(file, 0)) {
            starts.add(log.append(new StrategyConfig("fedavg", "{min_workers: 2}")).start());
            for (int i = 0; i < RECORDS - 2; i++) {
                starts.add(log.append(record(i)).start());
            }
            starts.add(log.append(new DeadlinePassed(3)).start());
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return starts;
    }

    static List<LogRecord> scan(Path file) throws IOException {
        List<LogRecord> out = new ArrayList<>();
        LogScan.scan(file, (s, e, r) -> out.add(r));
        return out;
    }

    @Test
    void everyKindOfRecordComesBack() throws IOException {
        Path file = dir.resolve("updates.log");
        write(file);
        List<LogRecord> got = scan(file);
        assertEquals(RECORDS, got.size());
        assertEquals(new StrategyConfig("fedavg", "{min_workers: 2}"), got.getFirst());
        assertEquals(new DeadlinePassed(3), got.getLast());
        assertEquals(record(4).updateId(), ((AcceptedUpdate) got.get(5)).updateId());
    }

    @Test
    void aFlippedByteInAnyRecordIsCorruptionNamingTheRecordAndNothingIsChanged() throws IOException {
        Path file = dir.resolve("updates.log");
        List<Long> starts = write(file);
        byte[] clean = Files.readAllBytes(file);
        for (int rec = 0; rec < RECORDS; rec++) {
            long start = starts.get(rec);
            long end = rec + 1 < RECORDS ? starts.get(rec + 1) : clean.length;
            // The magic, the length, the checksum, the type byte, a middle byte and the last byte of the record.
            long[] places = {start, start + 5, start + 13, start + 16, (start + end) / 2, end - 1};
            for (long at : places) {
                byte[] bad = clean.clone();
                bad[(int) at] ^= 0x10;
                Path f = dir.resolve("bad-" + rec + "-" + at);
                Files.write(f, bad);
                if (rec == RECORDS - 1 && at == start + 5) {
                    // A last record whose length now runs past the end of the file looks exactly like a write
                    // cut short: that one case is a torn tail (it is what a crash mid-append leaves).
                    assertEquals(start, LogScan.scan(f, (s, x, r) -> { }).validEnd());
                    continue;
                }
                LogCorruptException e = assertThrows(LogCorruptException.class, () -> scan(f), "record " + rec + " byte " + at);
                assertEquals(start, e.offset(), "offset of record " + rec + " flipped at " + at);
                assertEquals(rec, e.record());
                assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("offset " + start)
                        && e.getMessage().contains("record " + rec), e.getMessage());
                assertArrayEquals(bad, Files.readAllBytes(f), "the scan changed the file");
                assertThrows(LogCorruptException.class, () -> UpdateLogTest.listIds(f));
            }
        }
    }

    @Test
    void onlyAnIncompleteLastRecordOrAZeroTailIsTorn() throws IOException {
        Path file = dir.resolve("updates.log");
        List<Long> starts = write(file);
        byte[] clean = Files.readAllBytes(file);
        byte[] zeros = Arrays.copyOf(clean, clean.length + 4096);
        Files.write(file, zeros);
        LogScan.Result r = LogScan.scan(file, (s, e, x) -> { });
        assertEquals(clean.length, r.validEnd());
        assertEquals(RECORDS, r.records());
        // A length field that points past the end in the middle of the log is damage, not a torn tail:
        // whole records follow it.
        byte[] longer = clean.clone();
        long mid = starts.get(4);
        longer[(int) mid + 11] = 0x7f;
        Files.write(file, longer);
        LogCorruptException e = assertThrows(LogCorruptException.class, () -> scan(file));
        assertEquals(mid, e.offset());
    }

    @Test
    void salvageReplacesADamagedRecordKeepingEveryOffsetAndSaysWhatItDropped() throws IOException {
        Path file = dir.resolve("updates.log");
        List<Long> starts = write(file);
        byte[] clean = Files.readAllBytes(file);
        byte[] bad = clean.clone();
        long damaged = starts.get(7);
        bad[(int) (starts.get(8) - 10)] ^= 1; // in the delta: the record's fields still parse
        Files.write(file, Arrays.copyOf(bad, bad.length + 9)); // and a torn tail of 9 garbage bytes
        Files.write(file, new byte[] {0x54, 0x52, 0x42, 0x31, 1, 2, 3, 4, 5}, java.nio.file.StandardOpenOption.APPEND,
                java.nio.file.StandardOpenOption.WRITE);
        List<LogSalvage.Dropped> dropped = LogSalvage.salvage(file);
        assertEquals(2, dropped.size(), dropped.toString());
        LogSalvage.Dropped d = dropped.getFirst();
        assertEquals(damaged, d.offset());
        assertEquals(starts.get(8) - damaged, d.length());
        assertEquals(record(6).updateId(), d.updateId(), "the damaged record's id is named");
        assertTrue(d.describe().contains("CRC32C"), d.describe());
        assertArrayEquals(Arrays.copyOfRange(bad, (int) damaged, (int) (long) starts.get(8)), Files.readAllBytes(d.savedTo()));
        assertTrue(dropped.get(1).cut());
        List<LogRecord> after = scan(file);
        assertEquals(RECORDS, after.size());
        assertInstanceOf(Salvaged.class, after.get(7));
        assertEquals(clean.length, Files.size(file), "offsets kept, torn tail cut");
        assertTrue(LogSalvage.salvage(file).isEmpty(), "a second salvage finds nothing");
        assertNull(LogScan.scan(file, (s, e, x) -> { }).tornReason());
    }
}
