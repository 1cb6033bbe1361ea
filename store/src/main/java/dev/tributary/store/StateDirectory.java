package dev.tributary.store;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The layout of a coordinator's {@code --state} folder: {@code updates.log} (every accepted update, in
 * order), {@code updates.compacted-*.log} (the log's compacted prefix: see {@link CompactedLog}) and
 * {@code checkpoint-*.safetensors}.
 */
public final class StateDirectory {
    public static final String LOG = "updates.log";
    public static final String LOCK = "lock";

    private StateDirectory() {}

    public static Path log(Path dir) {
        return dir.resolve(LOG);
    }

    /**
     * Takes the {@value #LOCK} file of {@code dir}, so that a second process, or a second open in this one,
     * is refused; held until the returned channel is closed or the process dies.
     *
     * @param what names the folder's owner in the refusal, e.g. "table"
     * @throws IllegalStateException when the lock is held already
     */
    public static FileChannel lock(Path dir, String what) throws IOException {
        FileChannel ch = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock held;
        try {
            held = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            held = null;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        if (held == null) {
            ch.close();
            throw new IllegalStateException(what + " " + dir + " is in use by another process or " + what);
        }
        return ch;
    }

    /**
     * The ids of all accepted updates, in log order; a torn last record is not listed. May run while the
     * coordinator runs.
     *
     * @throws LogCorruptException when a record is damaged
     */
    public static List<String> acceptedUpdateIds(Path dir) throws IOException {
        List<String> ids = new ArrayList<>();
        CompactedLog.scanAll(log(dir), ids::clear, (start, end, r) -> {
            if (r instanceof AcceptedUpdate a) {
                ids.add(a.updateId());
            }
        });
        return ids;
    }
}
