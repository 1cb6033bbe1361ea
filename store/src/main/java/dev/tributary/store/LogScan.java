package dev.tributary.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads an update log from the start (or from where a {@link CompactedLog} ends), checking every record against its CRC32C. Only an incomplete last
 * record (the file ends inside it, or only zeros follow the last whole record) is a torn tail: a write cut
 * short by a crash, never acknowledged, since acknowledgments wait for the fsync. Anything else that is not
 * a whole, intact record is corruption, reported as a {@link LogCorruptException} naming the file, the
 * offset and the record; the scan never decides by itself to drop it.
 */
public final class LogScan {
    private LogScan() {}

    /** Receives each valid record; a record's delta is a view valid only during the call. */
    @FunctionalInterface
    public interface Visitor {
        void record(long start, long end, LogRecord record) throws IOException;
    }

    /**
     * What the scan found.
     *
     * @param validEnd     the end of the last valid record: where appending resumes
     * @param fileSize     the file's size
     * @param records      valid records visited
     * @param tornReason   why the bytes at {@code validEnd} are not a record; null when none are left
     */
    public record Result(long validEnd, long fileSize, long records, String tornReason) {
        /** Bytes after the valid end, dropped as a torn tail. */
        public long tornBytes() {
            return fileSize - validEnd;
        }
    }

    /**
     * Scans {@code file}; a missing file is an empty log.
     *
     * @throws LogCorruptException at the first record that is damaged rather than torn
     */
    public static Result scan(Path file, Visitor visitor) throws IOException {
        return scan(file, 0, Long.MAX_VALUE, visitor);
    }

    /**
     * Scans the records of {@code file} from offset {@code from} (a record boundary: where a compaction
     * ended) up to offset {@code to} (a record boundary, or {@link Long#MAX_VALUE} for the whole rest).
     * A file shorter than {@code from} gives a result whose valid end is its size.
     *
     * @throws LogCorruptException at the first record that is damaged rather than torn
     * @throws IllegalArgumentException when a record runs across {@code to}
     */
    public static Result scan(Path file, long from, long to, Visitor visitor) throws IOException {
        if (!Files.exists(file)) {
            return new Result(0, 0, 0, null);
        }
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < from) {
                return new Result(size, size, 0, null);
            }
            long limit = Math.min(size, to);
            MemorySegment log = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long at = from;
            long n = 0;
            while (at < limit) {
                long recordSize;
                LogRecord r;
                try {
                    recordSize = LogCodec.recordSize(log, at);
                    LogCodec.verify(log, at, recordSize);
                    r = LogCodec.decode(log, at, recordSize);
                } catch (LogCodec.Invalid e) {
                    if (isTornTail(log, at, e)) {
                        return new Result(at, size, n, "offset " + at + ": " + e.getMessage());
                    }
                    throw new LogCorruptException(file, at, n, e.getMessage());
                }
                if (at + recordSize > to) {
                    throw new IllegalArgumentException(file + ": the record at offset " + at + " runs across offset " + to);
                }
                visitor.record(at, at + recordSize, r);
                at += recordSize;
                n++;
            }
            return new Result(at, size, n, null);
        }
    }

    /**
     * Visits the records of {@code file} in {@code [from, to)}, a range that is durable and must hold whole,
     * intact records only (what a compaction reads), mapping one record at a time: the memory this maps is at
     * most one record, however long the range. Stops early at the end of the first record that reaches
     * {@code stopAfter}.
     *
     * @return where the records visited end: {@code to}, or earlier when {@code stopAfter} stopped it
     * @throws LogCorruptException at a damaged record, or when the file ends before {@code to}
     * @throws IllegalArgumentException when a record runs across {@code to}
     */
    public static long scanRange(Path file, long from, long to, long stopAfter, Visitor visitor) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            long at = from;
            long n = 0;
            while (at < to) {
                // The rest of the file is mapped for each record alone: only the pages of that record are
                // touched, and they are let go when its arena closes.
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment rest = ch.map(FileChannel.MapMode.READ_ONLY, at, size - at, arena);
                    long recordSize;
                    LogRecord r;
                    try {
                        recordSize = LogCodec.recordSize(rest, 0);
                        if (at + recordSize > to) {
                            throw new IllegalArgumentException(file + ": the record at offset " + at + " runs across offset " + to);
                        }
                        LogCodec.verify(rest, 0, recordSize);
                        r = LogCodec.decode(rest, 0, recordSize);
                    } catch (LogCodec.Invalid e) {
                        throw new LogCorruptException(file, at, n, e.getMessage());
                    }
                    visitor.record(at, at + recordSize, r);
                    at += recordSize;
                }
                n++;
                if (at >= stopAfter) {
                    break;
                }
            }
            return at;
        }
    }

    /**
     * A torn tail: the invalid bytes at {@code at} are the beginning of a record the file ends inside of
     * (and no whole record starts anywhere after them), or nothing but zeros.
     */
    static boolean isTornTail(MemorySegment log, long at, LogCodec.Invalid e) {
        if (allZero(log, at)) {
            return true;
        }
        return e.incomplete && nextValid(log, at + 1) < 0;
    }

    private static final MemorySegment ZEROS = MemorySegment.ofArray(new byte[1 << 16]);

    private static boolean allZero(MemorySegment log, long from) {
        for (long p = from; p < log.byteSize(); p += ZEROS.byteSize()) {
            long n = Math.min(ZEROS.byteSize(), log.byteSize() - p);
            if (log.asSlice(p, n).mismatch(ZEROS.asSlice(0, n)) >= 0) {
                return false;
            }
        }
        return true;
    }

    /** Start of the first whole, intact record at or after {@code from}, or -1. */
    static long nextValid(MemorySegment log, long from) {
        byte m0 = (byte) LogCodec.MAGIC;
        for (long p = from; p + LogCodec.HEADER <= log.byteSize(); p++) {
            if (log.get(ValueLayout.JAVA_BYTE, p) != m0) {
                continue;
            }
            try {
                long size = LogCodec.recordSize(log, p);
                LogCodec.verify(log, p, size);
                LogCodec.decode(log, p, size);
                return p;
            } catch (LogCodec.Invalid ignored) {
                // not a record here; keep looking
            }
        }
        return -1;
    }
}
