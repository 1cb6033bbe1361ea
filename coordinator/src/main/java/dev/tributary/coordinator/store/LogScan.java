package dev.tributary.coordinator.store;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads an update log from the start. Records before {@code verifyFrom} were verified by an earlier
 * start and are only parsed; records from there on are checked against their CRC32C. The first record
 * that is not whole and intact ends the valid log: it is a torn tail (a write cut short by a crash,
 * never acknowledged, since acknowledgments wait for the fsync).
 */
public final class LogScan {
    private LogScan() {}

    /** Receives each valid record; a record's delta is a view valid only during the call. */
    @FunctionalInterface
    public interface Visitor {
        void record(long start, long end, AcceptedUpdate record);
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

    /** Scans {@code file}; a missing file is an empty log. */
    public static Result scan(Path file, long verifyFrom, Visitor visitor) throws IOException {
        if (!Files.exists(file)) {
            return new Result(0, 0, 0, null);
        }
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment log = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long at = 0;
            long n = 0;
            while (at < size) {
                long recordSize;
                AcceptedUpdate r;
                try {
                    recordSize = LogCodec.recordSize(log, at);
                    if (at + recordSize > verifyFrom) {
                        LogCodec.verify(log, at, recordSize);
                    }
                    r = LogCodec.decode(log, at, recordSize);
                } catch (LogCodec.Invalid e) {
                    return new Result(at, size, n, "offset " + at + ": " + e.getMessage());
                }
                visitor.record(at, at + recordSize, r);
                at += recordSize;
                n++;
            }
            return new Result(at, size, n, null);
        }
    }
}
