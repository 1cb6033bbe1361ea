package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.CompactedLog;
import dev.tributary.store.DiskUsage;
import dev.tributary.tensor.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A table's log is compacted behind its checkpoints: consumed items' payloads leave the disk, every id stays
 * known, and a reopened table is the same table.
 */
class TableCompactionTest {
    private static final int PAYLOAD = 1 << 20;
    private static final int PER_ROUND = 30;

    @TempDir
    Path dir;

    @Test
    void consumedPayloadsLeaveTheDiskAndEveryIdStaysKnown() throws Exception {
        TableConfig config = TableConfig.fifoQueue(2 * PER_ROUND);
        List<String> ids = new ArrayList<>();
        List<String> warnings = new ArrayList<>();
        List<String> before;
        Path log = dir.resolve(Table.LOG);
        try (Table t = Table.open(dir, config, warnings::add)) {
            // Four rounds of an on-policy learner: insert, consume (sample and remove), checkpoint. The log
            // grows by 30 MiB a round; the oldest kept checkpoint passes the 64 MiB a compaction needs by the fourth.
            for (int round = 0; round < 4; round++) {
                for (int k = 0; k < PER_ROUND; k++) {
                    String id = "item-" + round + "-" + k;
                    ids.add(id);
                    assertTrue(t.insert(id, round, TestItems.payload(ids.size(), PAYLOAD), 1).join());
                }
                List<String> drawn = t.sample(PER_ROUND - 2, java.time.Duration.ZERO).stream().map(Item::id).toList();
                t.remove(drawn).join();
                t.checkpoint(new TensorMap());
            }
            before = TestItems.content(t);
        }
        assertEquals(List.of(), warnings);
        long compacted = CompactedLog.end(log);
        assertTrue(compacted >= Table.COMPACT_LOG_BYTES, "compacted up to " + compacted);
        assertEquals(ids, Table.insertedIds(dir));
        long size = Files.size(log);
        long onDisk = DiskUsage.allocated(log);
        if (onDisk < size) {
            assertTrue(onDisk <= size - compacted + 2 * 4096, onDisk + " bytes on disk, " + (size - compacted) + " not compacted");
        } else {
            System.out.println("TableCompactionTest: the file system under " + dir + " cannot punch holes; blocks not checked");
        }

        try (Table t = Table.open(dir, config, warnings::add)) {
            assertEquals(before, TestItems.content(t), "the same live items, payloads included");
            assertEquals(ids.size(), t.inserted());
            assertTrue(t.contains("item-0-0"), "an id from the compacted part");
            assertFalse(t.insert("item-0-1", 0, TestItems.payload(1, 16), 1).join(), "a retry of a compacted id is not inserted");
        }
        assertEquals(List.of(), warnings);

        // A damaged chunk stops the open; the explicit salvage drops that one id and the table opens the same.
        Path chunk = CompactedLog.chunks(log).getFirst().file();
        byte[] bytes = Files.readAllBytes(chunk);
        bytes[bytes.length / 2] ^= 0x08;
        Files.write(chunk, bytes);
        assertThrows(dev.tributary.store.LogCorruptException.class, () -> Table.open(dir, config, warnings::add));
        List<dev.tributary.store.LogSalvage.Dropped> dropped = dev.tributary.store.LogSalvage.salvageAll(log).dropped();
        assertEquals(1, dropped.size(), dropped.toString());
        List<String> gone = new ArrayList<>(ids);
        gone.removeAll(Table.insertedIds(dir));
        assertEquals(1, gone.size(), "one record's id goes (the damage may have hit the id itself): " + gone);
        String lost = gone.getFirst();
        try (Table t = Table.open(dir, config, warnings::add)) {
            assertEquals(before, TestItems.content(t), "the live items come from the checkpoint");
            assertFalse(t.contains(lost), "the salvaged id is forgotten");
            assertTrue(t.contains(ids.getFirst().equals(lost) ? ids.get(1) : ids.getFirst()));
        }
        assertTrue(warnings.stream().anyMatch(w -> w.contains("salvaged")), warnings.toString());
    }
}
