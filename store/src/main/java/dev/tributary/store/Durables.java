package dev.tributary.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/** Crash-safe file operations: atomic replacement (temp file, fsync, rename, fsync of the folder). */
public final class Durables {
    private Durables() {}

    /** Forces a folder's entries (new, renamed or removed files) to disk. */
    public static void fsyncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /** Forces a file's content to disk. */
    public static void fsyncFile(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /**
     * Writes {@code bytes} to {@code target} atomically: readers see the old file or the whole new one,
     * and after a crash at any moment the folder holds one or the other (plus, at worst, a stale temp file).
     */
    public static void writeAtomically(Path target, MemorySegment bytes) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.resolve(target.getFileName() + ".tmp");
        Failpoints.hit("checkpoint.write");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            List<ByteBuffer> parts = new ArrayList<>();
            ModelImage.forEachBuffer(bytes, parts::add);
            for (ByteBuffer b : parts) {
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Failpoints.hit("checkpoint.rename");
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Failpoints.hit("checkpoint.renamed");
        fsyncDirectory(dir);
    }
}
