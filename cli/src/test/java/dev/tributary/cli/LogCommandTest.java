package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.replay.Table;
import dev.tributary.rl.learner.DurableBuffer;
import dev.tributary.store.AcceptedUpdate;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.LogScan;
import dev.tributary.store.StateDirectory;
import dev.tributary.store.StrategyConfig;
import dev.tributary.store.TestModels;
import dev.tributary.store.UpdateLog;
import dev.tributary.tensor.Safetensors;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tributary log}: every record checked, damage named in one line, salvage only when asked. */
class LogCommandTest {
    @TempDir
    Path dir;

    List<String> ids = new ArrayList<>();
    List<Long> starts = new ArrayList<>();

    void writeLog(int n) throws Exception {
        try (UpdateLog log = UpdateLog.open(StateDirectory.log(dir), 0)) {
            log.append(new StrategyConfig("fedasync", "{}"));
            for (int i = 0; i < n; i++) {
                String id = UUID.nameUUIDFromBytes(new byte[] {(byte) i}).toString();
                ids.add(id);
                starts.add(log.append(new AcceptedUpdate(id, "w", i, 1, 1, Map.of(), i + 1, 0,
                        Safetensors.encode(TestModels.delta(i, 0.1f), Map.of(), Arena.ofAuto()))).start());
            }
        }
    }

    @Test
    void listsEveryAcceptedIdInOrder() throws Exception {
        writeLog(20);
        CliRunner r = CliRunner.run("log", "--state", dir.toString());
        assertEquals(0, r.status(), r.err());
        assertEquals(ids, r.out().lines().toList());
    }

    @Test
    void aDamagedRecordIsOneLineNamingItAndSalvageSaysWhatItDrops() throws Exception {
        writeLog(20);
        Path log = StateDirectory.log(dir);
        byte[] bytes = Files.readAllBytes(log);
        long at = starts.get(10);
        bytes[(int) (starts.get(11) - 3)] ^= 1;
        Files.write(log, bytes);

        CliRunner r = CliRunner.run("log", "--state", dir.toString());
        assertEquals(1, r.status());
        assertEquals("", r.out(), "nothing listed from a damaged log");
        String line = r.err().lines().findFirst().orElseThrow();
        assertTrue(line.startsWith("error: ") && line.contains("offset " + at) && line.contains("record 11")
                && line.contains("--salvage"), line);
        assertEquals(1, r.err().lines().count(), r.err());

        CliRunner s = CliRunner.run("log", "--state", dir.toString(), "--salvage");
        assertEquals(0, s.status(), s.err());
        assertTrue(s.out().contains("replaced") && s.out().contains(ids.get(10)) && s.out().contains("lost from the model"),
                s.out());
        CliRunner after = CliRunner.run("log", "--state", dir.toString());
        assertEquals(0, after.status(), after.err());
        List<String> kept = new ArrayList<>(ids);
        kept.remove(10);
        assertEquals(kept, after.out().lines().toList());
        assertTrue(CliRunner.run("log", "--state", dir.toString(), "--salvage").out().contains("intact"));
    }

    @Test
    void aFileWhereAFolderIsExpectedIsNamed() throws Exception {
        Path f = Files.writeString(dir.resolve("file"), "x");
        CliRunner r = CliRunner.run("log", "--state", f.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("not a folder"), r.err());
    }

    @Test
    void aDamagedOrMissingCompactedChunkIsSalvagedAndEachChangeNamed() throws Exception {
        writeLog(20);
        Path log = StateDirectory.log(dir);
        CompactedLog.Compacted first = CompactedLog.compact(log, starts.get(5), 1);
        CompactedLog.Compacted c = CompactedLog.compact(log, starts.get(10), 1);
        Path chunk = c.chunk().file();
        byte[] bytes = Files.readAllBytes(chunk);
        bytes[bytes.length / 2] ^= 0x20;
        Files.write(chunk, bytes);

        CliRunner r = CliRunner.run("log", "--state", dir.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains(chunk.getFileName().toString()) && r.err().contains("--salvage"), r.err());
        CliRunner s = CliRunner.run("log", "--state", dir.toString(), "--salvage");
        assertEquals(0, s.status(), s.err());
        String line = s.out().lines().filter(l -> l.contains("replaced")).findFirst().orElseThrow(() -> new AssertionError(s.out()));
        assertTrue(line.startsWith(chunk.getFileName() + ": ") && line.contains("accepted again"), line);
        List<String> after = CliRunner.run("log", "--state", dir.toString()).out().lines().toList();
        assertEquals(ids.size() - 1, after.size(), after.toString());

        Files.delete(first.chunk().file());
        assertEquals(1, CliRunner.run("log", "--state", dir.toString()).status(), "a missing chunk is an error");
        boolean punched = Files.readAllBytes(log)[0] == 0;
        CliRunner m = CliRunner.run("log", "--state", dir.toString(), "--salvage");
        assertEquals(0, m.status(), m.err());
        if (punched) {
            assertTrue(m.out().contains("was missing") && m.out().contains("ids accepted there are lost"), m.out());
            assertEquals(after.subList(5, after.size()), CliRunner.run("log", "--state", dir.toString()).out().lines().toList(),
                    "the ids the lost chunk held are gone, every later one is listed");
        } else {
            assertTrue(m.out().contains("wrote the missing chunk " + first.chunk().file().getFileName() + " again from the"
                    + " log's bytes (6 records"), m.out());
            assertEquals(after, CliRunner.run("log", "--state", dir.toString()).out().lines().toList());
        }
    }

    @Test
    void aLearnersDamagedExperienceLogIsSalvagedAndTheLearnerOpensAgain() throws Exception {
        Path learner = dir.resolve("learner");
        List<String> items = new ArrayList<>();
        try (DurableBuffer b = DurableBuffer.open(learner, 8, w -> { })) {
            for (int i = 0; i < 6; i++) {
                byte[] payload = new byte[4096];
                java.util.Arrays.fill(payload, (byte) i);
                items.add("item-" + i);
                b.insert("item-" + i, 0, MemorySegment.ofArray(payload), 1.0).join();
            }
        }
        Path log = learner.resolve(DurableBuffer.DIR).resolve(Table.LOG);
        List<Long> at = new ArrayList<>();
        LogScan.scan(log, 0, Long.MAX_VALUE, (start, end, rec) -> at.add(start));
        byte[] bytes = Files.readAllBytes(log);
        bytes[(int) (at.get(3) + 2000)] ^= 1;
        Files.write(log, bytes);

        CliRunner r = CliRunner.run("log", "--state", learner.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains("offset " + at.get(3)) && r.err().contains("--salvage"), r.err());
        CliRunner s = CliRunner.run("log", "--state", learner.toString(), "--salvage");
        assertEquals(0, s.status(), s.err());
        assertTrue(s.out().contains("replaced") && s.out().contains("item-3") && s.out().contains("lost from the table"), s.out());
        List<String> kept = new ArrayList<>(items);
        kept.remove("item-3");
        assertEquals(kept, CliRunner.run("log", "--state", learner.toString()).out().lines().toList());
        try (DurableBuffer b = DurableBuffer.open(learner, 8, w -> { })) {
            assertEquals(5, b.size(), "every item but the salvaged one");
            CliRunner busy = CliRunner.run("log", "--state", learner.toString(), "--salvage");
            assertEquals(1, busy.status());
            assertTrue(busy.err().contains("in use by a running learner"), busy.err());
        }
        assertTrue(CliRunner.run("log", "--state", learner.resolve(DurableBuffer.DIR).toString(), "--salvage").out()
                .contains("intact"), "the experience folder itself is accepted too");
    }
}
