package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Damage of every kind to a compacted log (a flipped byte or a cut anywhere in a chunk, a chunk deleted, a
 * flipped byte or a cut in the log after the chunks, one or two at once): reading it either fails or gives
 * every accepted id, never a silently shorter list when a chunk was damaged; the salvage always brings it
 * back to a log that opens, keeps every id outside the damaged file (and, in the log, before the damage),
 * drops none twice, and a second salvage finds nothing to do.
 */
class SalvageProperties {
    static final int UPDATES = 9;
    /** Large enough that compaction punches whole blocks out of the log. */
    static final int DELTA_BYTES = 3 * (int) CompactedLog.BLOCK;

    enum Kind { FLIP_CHUNK, CUT_CHUNK, DELETE_CHUNK, FLIP_LOG, CUT_LOG }

    /** One damage: which chunk (of three), and where, as a fraction of the file's or the tail's size. */
    record Damage(Kind kind, int chunk, double at) {}

    @Provide
    Arbitrary<List<Damage>> damages() {
        Arbitrary<Damage> one = Combinators.combine(Arbitraries.of(Kind.class), Arbitraries.integers().between(0, 2),
                Arbitraries.doubles().between(0, 1)).as(Damage::new);
        return one.list().ofMinSize(1).ofMaxSize(2);
    }

    @Property(tries = 150)
    void theSalvageAlwaysBringsBackALogThatOpensAndKeepsWhatWasNotDamaged(@ForAll("damages") List<Damage> damages)
            throws Exception {
        Path dir = Files.createTempDirectory("salvage-property");
        try {
            check(dir, damages);
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void check(Path dir, List<Damage> damages) throws Exception {
        CompactedLogTest t = new CompactedLogTest();
        t.dir = dir;
        Path log = t.writeLog(UPDATES, DELTA_BYTES);
        List<CompactedLog.Chunk> chunks = new ArrayList<>();
        for (int last : new int[] {2, 4, 6}) {
            chunks.add(CompactedLog.compact(log, t.endOfUpdate(last), 1).chunk());
        }
        long tailFrom = CompactedLog.end(log);
        // Ids that must survive: those in no damaged chunk, and in the log those before the first damage.
        List<Boolean> chunkDamaged = new ArrayList<>(List.of(false, false, false));
        long logDamagedFrom = Long.MAX_VALUE;
        boolean chunkDamage = false;
        for (Damage d : damages) {
            Statistics.label("kind").collect(d.kind());
            Path chunk = chunks.get(d.chunk()).file();
            switch (d.kind()) {
                case FLIP_CHUNK, CUT_CHUNK, DELETE_CHUNK -> {
                    if (!Files.exists(chunk)) {
                        continue; // deleted by the other damage
                    }
                    chunkDamaged.set(d.chunk(), true);
                    chunkDamage = true;
                    long size = Files.size(chunk);
                    long at = Math.min(size - 1, (long) (d.at() * size));
                    if (d.kind() == Kind.FLIP_CHUNK) {
                        flip(chunk, at);
                    } else if (d.kind() == Kind.CUT_CHUNK) {
                        cut(chunk, at);
                    } else {
                        Files.delete(chunk);
                    }
                }
                case FLIP_LOG, CUT_LOG -> {
                    long size = Files.size(log);
                    if (size <= tailFrom) {
                        continue; // cut away by the other damage
                    }
                    long at = Math.min(size - 1, tailFrom + (long) (d.at() * (size - tailFrom)));
                    logDamagedFrom = Math.min(logDamagedFrom, at);
                    if (d.kind() == Kind.FLIP_LOG) {
                        flip(log, at);
                    } else {
                        cut(log, at);
                    }
                }
            }
        }
        List<String> mustSurvive = new ArrayList<>();
        for (int i = 0; i < UPDATES; i++) {
            long end = t.endOfUpdate(i);
            int inChunk = end <= chunks.get(0).to() ? 0 : end <= chunks.get(1).to() ? 1 : end <= chunks.get(2).to() ? 2 : -1;
            boolean kept = inChunk >= 0 ? !chunkDamaged.get(inChunk) : end <= logDamagedFrom;
            if (kept) {
                mustSurvive.add(t.ids.get(i));
            }
        }

        boolean refusedBefore;
        try {
            List<String> before = StateDirectory.acceptedUpdateIds(dir);
            refusedBefore = false;
            if (chunkDamage) {
                // A lost chunk whose bytes are still in the log reads as before; any other chunk damage is refused.
                assertEquals(t.ids, before, "chunk damage " + damages + " read as a shorter list");
            }
        } catch (IOException e) {
            refusedBefore = true;
        }
        Statistics.label("refused before the salvage").collect(refusedBefore);

        LogSalvage.Repair repair = LogSalvage.salvageAll(log);
        if (refusedBefore) {
            assertFalse(repair.intact(), "a log that did not open was repaired: " + damages);
        }
        List<String> after = StateDirectory.acceptedUpdateIds(dir);
        assertEquals(after.size(), new HashSet<>(after).size(), "no id twice: " + after);
        assertTrue(isSubsequence(after, t.ids), "only accepted ids, in order: " + after);
        assertTrue(after.containsAll(mustSurvive), damages + ": lost ids outside the damage: " + mustSurvive + " " + after);
        for (LogSalvage.Dropped d : repair.dropped()) {
            assertTrue(d.savedTo() == null || Files.exists(d.savedTo()), "the dropped bytes are kept: " + d);
            assertEquals(-1, d.describe().indexOf('\n'));
        }
        assertTrue(LogSalvage.salvageAll(log).intact(), "a second salvage after " + damages);
        assertEquals(after, StateDirectory.acceptedUpdateIds(dir));
    }

    static boolean isSubsequence(List<String> sub, List<String> all) {
        int i = 0;
        for (String s : all) {
            if (i < sub.size() && sub.get(i).equals(s)) {
                i++;
            }
        }
        return i == sub.size();
    }

    static void flip(Path file, long at) throws IOException {
        byte[] b = Files.readAllBytes(file);
        b[(int) at] ^= 0x20;
        Files.write(file, b);
    }

    static void cut(Path file, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(at);
        }
    }
}
