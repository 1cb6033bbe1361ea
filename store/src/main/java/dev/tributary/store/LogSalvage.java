package dev.tributary.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The explicit repair of a damaged update log, never run by itself: each damaged record is copied to a
 * file beside the log and replaced in place by a {@link Salvaged} record of the same size, so every later
 * record (and every checkpoint's log position) stays where it was; damage with no whole record after it,
 * and a torn tail, are cut off (and copied aside too). Every change is reported.
 */
public final class LogSalvage {
    private LogSalvage() {}

    /**
     * One region of the log that the salvage replaced or cut; {@code savedTo} is null when there were no bytes
     * to keep (records missing from a compacted chunk's end).
     */
    public record Dropped(Path file, long offset, long length, boolean cut, String reason, String updateId, Path savedTo) {
        /** One line: where, how much, what it held. */
        public String describe() {
            return describe("update");
        }

        /** One line, naming what the log holds ({@code update}, {@code item}). */
        public String describe(String what) {
            if (savedTo == null) {
                return "at offset " + offset + ": " + reason;
            }
            return (cut ? "cut " : "replaced ") + length + " bytes at offset " + offset + " (" + reason + ")"
                    + (updateId == null ? "" : ", holding " + what + " " + updateId) + "; original bytes in " + savedTo.getFileName();
        }
    }

    /** What {@link #salvageAll} did: chunks written in place of missing ones, then the damage dropped. */
    public record Repair(List<CompactedLog.Restored> restored, List<Dropped> dropped) {
        /** Whether nothing needed repair (nothing was changed). */
        public boolean intact() {
            return restored.isEmpty() && dropped.isEmpty();
        }
    }

    /**
     * Repairs {@code log} and its {@link CompactedLog} chunks: missing chunks are written again
     * ({@link CompactedLog#restoreGaps}), damaged records in every chunk are replaced (a chunk cut short is cut
     * at its last whole record), then the log after the chunks is repaired as {@link #salvage(Path, long)} does.
     */
    public static Repair salvageAll(Path log) throws IOException {
        List<CompactedLog.Restored> restored = CompactedLog.restoreGaps(log);
        CompactedLog.removeLeftovers(log);
        List<Dropped> dropped = new ArrayList<>();
        for (CompactedLog.Chunk c : CompactedLog.chunks(log)) {
            List<Dropped> d = new ArrayList<>(salvage(c.file(), 0));
            long held = LogScan.scan(c.file(), 0, Long.MAX_VALUE, (start, end, rec) -> { }).records();
            if (d.isEmpty() && c.records() >= 0 && held < c.records()) {
                // Whole records gone from its end: their checksums cannot tell, its name's count does.
                d.add(new Dropped(c.file(), Files.size(c.file()), 0, true, "the chunk holds " + held
                        + " records where its name says " + c.records() + ": the rest are lost", null, null));
            } else if (d.isEmpty() && c.records() >= 0 && held > c.records()) {
                d.add(new Dropped(c.file(), 0, 0, false, "the chunk holds " + held + " whole records where its name says "
                        + c.records() + ": renamed after what it holds", null, null));
            }
            if (d.stream().anyMatch(Dropped::cut)) {
                // A chunk's offsets mean nothing, but recovery must know that records are missing from it.
                try (FileChannel ch = FileChannel.open(c.file(), StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                    ByteBuffer b = LogCodec.encode(new Salvaged(LogCodec.HEADER + 1)).seal().head();
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                    ch.force(true);
                }
                held++;
            }
            if (c.records() >= 0 || !d.isEmpty()) {
                CompactedLog.recount(c, log, held);
            }
            dropped.addAll(d);
        }
        dropped.addAll(salvage(log, CompactedLog.end(log)));
        return new Repair(restored, dropped);
    }

    /** Repairs {@code file}; an intact log is left untouched and gives an empty list. */
    public static List<Dropped> salvage(Path file) throws IOException {
        return salvage(file, 0);
    }

    /**
     * Repairs {@code file} from offset {@code from} on: where its {@link CompactedLog} ends, the bytes before it
     * being given back to the file system.
     */
    public static List<Dropped> salvage(Path file, long from) throws IOException {
        List<Dropped> plan = new ArrayList<>();
        long cutAt = -1;
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment log = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long at = from;
            while (at < size) {
                try {
                    long n = LogCodec.recordSize(log, at);
                    LogCodec.verify(log, at, n);
                    LogCodec.decode(log, at, n);
                    at += n;
                    continue;
                } catch (LogCodec.Invalid e) {
                    String id = readableId(log, at);
                    long next = LogScan.isTornTail(log, at, e) ? -1 : LogScan.nextValid(log, at + 1);
                    if (next >= 0 && next - at < LogCodec.HEADER + 1) {
                        next = -1;
                    }
                    long end = next < 0 ? size : next;
                    Path saved = file.resolveSibling(file.getFileName() + ".salvaged-" + at);
                    Files.write(saved, log.asSlice(at, end - at).toArray(ValueLayout.JAVA_BYTE));
                    Durables.fsyncFile(saved);
                    plan.add(new Dropped(file, at, end - at, next < 0, e.getMessage(), id, saved));
                    if (next < 0) {
                        cutAt = at;
                        break;
                    }
                    at = next;
                }
            }
        }
        if (plan.isEmpty()) {
            return plan;
        }
        Durables.fsyncDirectory(file.toAbsolutePath().getParent());
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            for (Dropped d : plan) {
                if (!d.cut()) {
                    ByteBuffer b = LogCodec.encode(new Salvaged(d.length())).seal().head();
                    while (b.hasRemaining()) {
                        ch.write(b, d.offset() + b.position());
                    }
                }
            }
            if (cutAt >= 0) {
                ch.truncate(cutAt);
            }
            ch.force(true);
        }
        return plan;
    }

    /** The update (or experience item) id of a damaged record when its fields still parse, else null. */
    private static String readableId(MemorySegment log, long at) {
        try {
            long n = LogCodec.recordSize(log, at);
            return switch (LogCodec.decode(log, at, n)) {
                case AcceptedUpdate a -> a.updateId();
                case ExperienceInserted x -> x.id();
                default -> null;
            };
        } catch (LogCodec.Invalid | RuntimeException e) {
            return null;
        }
    }
}
