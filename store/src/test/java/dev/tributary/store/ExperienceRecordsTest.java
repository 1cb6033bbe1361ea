package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The experience records: every field comes back, the layout is pinned byte for byte, a field the layout
 * cannot hold is refused before anything is written, and damage to any record of any kind is corruption,
 * never dropped.
 */
class ExperienceRecordsTest {
    @TempDir
    Path dir;

    static MemorySegment bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (seed * 31 + i * 7);
        }
        return MemorySegment.ofArray(b);
    }

    /** One record of each experience kind, twice, around an update log's own kinds. */
    static List<LogRecord> records() {
        return List.of(new StrategyConfig("learner", "{}"),
                new ExperienceInserted("actor-0/0", 3, 1.5, bytes(100, 1)),
                new ExperienceInserted("actor-1/0", 4, 0.0, MemorySegment.ofArray(new byte[0])),
                new ExperienceSampled(32),
                new ExperienceRemoved(ExperienceRemoved.Cause.REMOVED, List.of("actor-0/0")),
                new ExperienceInserted("é/ü", Long.MAX_VALUE, Double.MAX_VALUE, bytes(5000, 2)),
                new ExperienceRemoved(ExperienceRemoved.Cause.EVICTED, List.of("actor-1/0", "é/ü")),
                new ExperienceSampled(Long.MAX_VALUE),
                new ExperienceRemoved(ExperienceRemoved.Cause.REMOVED, List.of()));
    }

    /** Writes {@link #records()} to {@code experience.log}; returns each record's start. */
    List<Long> write() throws IOException {
        List<Long> starts = new ArrayList<>();
        try (UpdateLog log = UpdateLog.open(dir.resolve("experience.log"), 0)) {
            for (LogRecord r : records()) {
                starts.add(log.append(r).start());
            }
        }
        return starts;
    }

    /** Copies what a scan visits, since payloads are views valid only during the visit. */
    static List<Object> scan(Path file) throws IOException {
        List<Object> out = new ArrayList<>();
        LogScan.scan(file, (s, e, r) -> out.add(comparable(r)));
        return out;
    }

    static Object comparable(LogRecord r) {
        return r instanceof ExperienceInserted x
                ? List.of(x.id(), x.policyVersion(), x.priority(), HexFormat.of().formatHex(x.payload().toArray(ValueLayout.JAVA_BYTE)))
                : r;
    }

    @Test
    void everyFieldOfEveryKindComesBack() throws IOException {
        Path file = dir.resolve("experience.log");
        write();
        assertEquals(records().stream().map(ExperienceRecordsTest::comparable).toList(), scan(file));
    }

    @Test
    void theLayoutIsPinnedByteForByte() {
        assertEquals("05" + "0100" + "61" + "0700000000000000" + "000000000000f83f" + "0300000000000000" + "010203",
                payloadHex(new ExperienceInserted("a", 7, 1.5, MemorySegment.ofArray(new byte[] {1, 2, 3}))));
        assertEquals("06" + "01" + "02000000" + "0100" + "61" + "0200" + "6263",
                payloadHex(new ExperienceRemoved(ExperienceRemoved.Cause.EVICTED, List.of("a", "bc"))));
        assertEquals("07" + "0900000000000000", payloadHex(new ExperienceSampled(9)));
        // The update log's own kinds keep their layout.
        assertEquals("02" + "0500000000000000", payloadHex(new DeadlinePassed(5)));
    }

    static String payloadHex(LogRecord r) {
        LogCodec.Encoded e = LogCodec.encode(r).seal();
        ByteBuffer head = e.head().duplicate().position(LogCodec.HEADER);
        byte[] h = new byte[head.remaining()];
        head.get(h);
        return HexFormat.of().formatHex(h) + HexFormat.of().formatHex(e.tail().toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void fieldsTheLayoutCannotHoldAreRefusedBeforeAnythingIsWritten() {
        MemorySegment none = MemorySegment.ofArray(new byte[0]);
        for (double p : new double[] {-1, Double.NaN, Double.POSITIVE_INFINITY}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Prepared.of(new ExperienceInserted("x", 0, p, none)));
            assertTrue(e.getMessage().contains("priority " + p), e.getMessage());
        }
        String longId = "x".repeat(LogCodec.MAX_STRING + 1);
        assertThrows(IllegalArgumentException.class, () -> Prepared.of(new ExperienceInserted(longId, 0, 1, none)));
        assertThrows(IllegalArgumentException.class,
                () -> Prepared.of(new ExperienceRemoved(ExperienceRemoved.Cause.REMOVED, List.of(longId))));
        List<String> many = Collections.nCopies(LogCodec.MAX_REMOVED_IDS + 1, "x");
        assertThrows(IllegalArgumentException.class,
                () -> Prepared.of(new ExperienceRemoved(ExperienceRemoved.Cause.REMOVED, many)));
        assertThrows(IllegalArgumentException.class, () -> new ExperienceSampled(0));
    }

    @Test
    void aFlippedByteInAnyRecordOfAnyKindIsCorruptionNamingTheRecord() throws IOException {
        Path file = dir.resolve("experience.log");
        List<Long> starts = write();
        List<LogRecord> records = records();
        byte[] clean = Files.readAllBytes(file);
        for (int rec = 0; rec < records.size() - 1; rec++) {
            long start = starts.get(rec);
            long end = starts.get(rec + 1);
            for (long at : new long[] {start, start + 5, start + 13, start + 16, start + 17, (start + end) / 2, end - 1}) {
                byte[] bad = clean.clone();
                bad[(int) at] ^= 0x10;
                Path f = dir.resolve("bad-" + rec + "-" + at);
                Files.write(f, bad);
                LogCorruptException e = assertThrows(LogCorruptException.class, () -> scan(f),
                        records.get(rec) + " flipped at " + (at - start));
                assertEquals(start, e.offset());
                assertEquals(rec, e.record());
                assertArrayEquals(bad, Files.readAllBytes(f), "the scan changed the file");
            }
        }
    }

    @Test
    void recordsWhoseChecksumHoldsButWhoseFieldsAreImpossibleAreCorruption() throws IOException {
        // Each payload is sealed with a correct CRC32C: only the field checks can catch it.
        List<String> payloads = List.of(
                "05" + "0100" + "61" + "0000000000000000" + "000000000000f0bf" + "0000000000000000", // priority -1
                "05" + "0100" + "61" + "0000000000000000" + "000000000000f87f" + "0000000000000000", // priority NaN
                "05" + "0100" + "61" + "0000000000000000" + "000000000000f03f" + "0900000000000000", // payload past the end
                "06" + "02" + "00000000", // unknown removal cause
                "06" + "00" + "02000000" + "0100" + "61", // two ids announced, one present
                "06" + "00" + "01000000" + "0100" + "61" + "00", // a byte left over
                "07" + "0000000000000000", // zero samples
                "07" + "00000000000000"); // count cut short
        for (String hex : payloads) {
            Path f = dir.resolve("forged-" + payloads.indexOf(hex));
            byte[] good = LogCodec.encode(new ExperienceSampled(1)).seal().head().array();
            byte[] forged = sealed(HexFormat.of().parseHex(hex));
            byte[] both = new byte[forged.length + good.length];
            System.arraycopy(forged, 0, both, 0, forged.length);
            System.arraycopy(good, 0, both, forged.length, good.length);
            Files.write(f, both);
            LogCorruptException e = assertThrows(LogCorruptException.class, () -> scan(f), hex);
            assertEquals(0, e.offset(), hex);
        }
    }

    static byte[] sealed(byte[] payload) {
        CRC32C crc = new CRC32C();
        crc.update(payload);
        ByteBuffer b = ByteBuffer.allocate(LogCodec.HEADER + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LogCodec.MAGIC).putLong(payload.length).putInt((int) crc.getValue()).put(payload);
        return b.array();
    }

    @Test
    void salvageNamesTheDamagedItemAndKeepsEveryOtherRecord() throws IOException {
        Path file = dir.resolve("experience.log");
        List<Long> starts = write();
        byte[] bad = Files.readAllBytes(file);
        bad[(int) (starts.get(6) - 3)] ^= 1; // in the payload of the third item: its fields still parse
        Files.write(file, bad);
        List<LogSalvage.Dropped> dropped = LogSalvage.salvage(file);
        assertEquals(1, dropped.size(), dropped.toString());
        assertEquals("é/ü", dropped.getFirst().updateId());
        List<Object> after = scan(file);
        assertEquals(records().size(), after.size());
        assertInstanceOf(Salvaged.class, after.get(5));
        assertEquals(comparable(records().get(6)), after.get(6));
    }
}
