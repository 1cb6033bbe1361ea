package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every bound at its value and one past it: max size, item bytes, the memory budget, ids, the configuration. */
class BoundsTest {
    static final int ID = 2; // ids "i0".."i9": two characters
    static final int PAYLOAD = 100;
    static final long ITEM = TableConfig.footprint(PAYLOAD, ID);

    @TempDir
    Path dir;

    static boolean put(Table t, int i) {
        return t.insert("i" + i, 0, TestItems.payload(i, PAYLOAD), 1).join();
    }

    static InsertRefusedException refused(Table t, int i) {
        CompletionException e = assertThrows(CompletionException.class, () -> put(t, i));
        return assertInstanceOf(InsertRefusedException.class, e.getCause());
    }

    static List<String> ids(Table t) {
        return t.snapshot().stream().map(Item::id).toList();
    }

    @Test
    void maxSizeExactlyFitsAndOneMoreEvictsTheOldestWhichReplayRepeats() throws Exception {
        TableConfig config = TableConfig.uniformReplay(4, 1, 0);
        try (Table t = TestItems.open(dir, config)) {
            for (int i = 0; i < 4; i++) {
                assertTrue(put(t, i));
            }
            assertEquals(4, t.size());
            assertEquals(0, t.evicted());
            assertTrue(put(t, 4));
            assertEquals(List.of("i1", "i2", "i3", "i4"), ids(t));
            assertEquals(1, t.evicted());
            assertEquals(1, t.removed());
            assertEquals(5, t.inserted());
        }
        // Reopened under a larger max size, the logged eviction still happens: replay follows the log.
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(100, 1, 0))) {
            assertEquals(List.of("i1", "i2", "i3", "i4"), ids(t));
            assertEquals(1, t.evicted());
            assertFalse(put(t, 0), "an evicted id is still known: a retry is not taken in again");
        }
    }

    @Test
    void maxSizeWithoutARemoverRefusesOneMoreWithTheReason() throws Exception {
        TableConfig config = TableConfig.uniformReplay(4, 1, 0).withRemover(Remover.NONE);
        try (Table t = TestItems.open(dir, config)) {
            for (int i = 0; i < 4; i++) {
                assertTrue(put(t, i));
            }
            assertTrue(refused(t, 4).getMessage().contains("table full: 4 items, maxSize 4"));
            assertEquals(4, t.size());
            t.remove(List.of("i2")).join();
            assertTrue(put(t, 4));
        }
    }

    @Test
    void maxItemBytesExactlyIsTakenAndOneMoreIsRefused() throws Exception {
        TableConfig config = TableConfig.uniformReplay(10, 1, 0).withBytes(1000, 1 << 20);
        try (Table t = TestItems.open(dir, config)) {
            assertTrue(t.insert("max", 0, TestItems.payload(1, 1000), 1).join());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> t.insert("over", 0, TestItems.payload(1, 1001), 1));
            assertEquals("item over: payload of 1001 bytes > maxItemBytes 1000", e.getMessage());
            assertTrue(t.insert("empty", 0, MemorySegment.ofArray(new byte[0]), 1).join());
            assertEquals(2, t.size());
        }
    }

    @Test
    void theMemoryBudgetExactlyFitsAndOneMoreItemEvictsOrIsRefused() throws Exception {
        // Budget for exactly three items; max size well above.
        TableConfig fifo = TableConfig.uniformReplay(100, 1, 0).withBytes(PAYLOAD, 3 * ITEM);
        try (Table t = TestItems.open(dir.resolve("fifo"), fifo)) {
            for (int i = 0; i < 3; i++) {
                assertTrue(put(t, i));
            }
            assertEquals(3 * ITEM, t.bytes());
            assertTrue(put(t, 3));
            assertEquals(List.of("i1", "i2", "i3"), ids(t), "the oldest evicted to stay in budget");
            assertEquals(3 * ITEM, t.bytes());
        }
        try (Table t = TestItems.open(dir.resolve("none"), fifo.withRemover(Remover.NONE))) {
            for (int i = 0; i < 3; i++) {
                assertTrue(put(t, i));
            }
            String why = refused(t, 3).getMessage();
            assertTrue(why.contains("memory budget: live items take " + 3 * ITEM + " bytes, this one " + ITEM), why);
        }
        // One byte short of three items: two fit, the third evicts.
        try (Table t = TestItems.open(dir.resolve("short"), fifo.withBytes(PAYLOAD, 3 * ITEM - 1))) {
            for (int i = 0; i < 3; i++) {
                assertTrue(put(t, i));
            }
            assertEquals(2, t.size());
        }
    }

    @Test
    void aRecoveredTableOverASmallerConfigurationEvictsDownOrWarns() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(10, 1, 0))) {
            for (int i = 0; i < 10; i++) {
                put(t, i);
            }
        }
        List<String> warnings = new ArrayList<>();
        try (Table t = Table.open(dir, TableConfig.uniformReplay(100, 1, 0).withRemover(Remover.NONE).withBytes(PAYLOAD, 5 * ITEM),
                warnings::add)) {
            assertEquals(10, t.size());
            assertTrue(warnings.getFirst().contains("nothing evicted (remover NONE)"), warnings.toString());
            assertTrue(refused(t, 10).getMessage().contains("memory budget"));
        }
        warnings.clear();
        try (Table t = Table.open(dir, TableConfig.uniformReplay(4, 1, 0), warnings::add)) {
            assertEquals(List.of("i6", "i7", "i8", "i9"), ids(t));
            assertTrue(warnings.getFirst().contains("evicted the 6 oldest"), warnings.toString());
        }
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(100, 1, 0))) {
            assertEquals(4, t.size(), "the evictions at open were logged");
        }
    }

    @Test
    void idsAndFieldsAreBounded() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.uniformReplay(10, 1, 0))) {
            MemorySegment p = TestItems.payload(0, 8);
            assertTrue(t.insert("x".repeat(TableConfig.MAX_ID_BYTES), 0, p, 1).join());
            assertThrows(IllegalArgumentException.class, () -> t.insert("x".repeat(TableConfig.MAX_ID_BYTES + 1), 0, p, 1));
            assertThrows(IllegalArgumentException.class, () -> t.insert("é".repeat(TableConfig.MAX_ID_BYTES / 2 + 1), 0, p, 1));
            assertThrows(IllegalArgumentException.class, () -> t.insert("", 0, p, 1));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> t.insert("a\nb", 0, p, 1)).getMessage()
                    .contains("control characters"));
            assertThrows(IllegalArgumentException.class, () -> t.insert("v", -1, p, 1));
            for (double bad : new double[] {-0.5, Double.NaN, Double.POSITIVE_INFINITY}) {
                assertTrue(assertThrows(IllegalArgumentException.class, () -> t.insert("p", 0, p, bad)).getMessage()
                        .contains("priority " + bad));
            }
            assertThrows(IllegalArgumentException.class, () -> t.sample(0, java.time.Duration.ZERO));
            assertEquals(1, t.size());
        }
        try (Table t = TestItems.open(dir.resolve("p"), TableConfig.prioritizedReplay(10, 3, 1, 0))) {
            assertThrows(IllegalArgumentException.class, () -> t.insert("big", 0, TestItems.payload(0, 1), 1e200),
                    "priority^exponent overflows");
        }
    }

    @Test
    void configurationsAreCheckedAtTheirBounds() {
        TableConfig base = TableConfig.uniformReplay(10, 1, 0);
        long largest = TableConfig.footprint(1000, TableConfig.MAX_ID_BYTES);
        base.withBytes(1000, largest);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> base.withBytes(1000, largest - 1));
        assertTrue(e.getMessage().startsWith("memoryBudgetBytes " + (largest - 1) + ": must be >= " + largest), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> base.withBytes(-1, 1 << 20));
        assertThrows(IllegalArgumentException.class, () -> base.withBytes(TableConfig.MAX_PAYLOAD_BYTES + 1, Long.MAX_VALUE));
        TableConfig.uniformReplay(1, 1, 0);
        assertThrows(IllegalArgumentException.class, () -> TableConfig.uniformReplay(0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> TableConfig.uniformReplay(Integer.MAX_VALUE, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.prioritized(Double.NaN, 0));
    }
}
