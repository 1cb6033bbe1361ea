package dev.tributary.replay;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Payloads that say which item they belong to, and the table's content in a comparable form. */
final class TestItems {
    private TestItems() {}

    /** {@code n} bytes derived from {@code seed}. */
    static MemorySegment payload(long seed, int n) {
        byte[] b = new byte[n];
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b[i] = (byte) x;
        }
        return MemorySegment.ofArray(b);
    }

    static boolean insert(Table t, String id, double priority) {
        return t.insert(id, 1, payload(id.hashCode(), 16 + Math.abs(id.hashCode() % 64)), priority).join();
    }

    static Table open(Path dir, TableConfig config) {
        try {
            return Table.open(dir, config, w -> { });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every live item, oldest first, with its payload as hex: equal for equal tables. */
    static List<String> content(Table t) {
        List<String> out = new ArrayList<>();
        for (Item i : t.snapshot()) {
            out.add(describe(i));
        }
        out.add("slots " + t.slotOrder());
        out.add("inserted " + t.inserted() + " sampled " + t.sampled() + " removed " + t.removed() + " evicted " + t.evicted()
                + " bytes " + t.bytes());
        return out;
    }

    static String describe(Item i) {
        return i.id() + "@" + i.sequence() + " v" + i.policyVersion() + " p" + i.priority() + " "
                + HexFormat.of().formatHex(i.payload().toArray(ValueLayout.JAVA_BYTE));
    }

    static void joinAll(List<CompletableFuture<?>> fs) {
        CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).join();
    }
}
