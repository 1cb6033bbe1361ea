package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.AcceptedUpdate;
import dev.tributary.store.StateDirectory;
import dev.tributary.store.StrategyConfig;
import dev.tributary.store.TestModels;
import dev.tributary.store.UpdateLog;
import dev.tributary.tensor.Safetensors;
import java.lang.foreign.Arena;
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
}
