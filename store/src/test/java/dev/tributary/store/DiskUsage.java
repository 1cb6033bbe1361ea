package dev.tributary.store;

import java.io.IOException;
import java.nio.file.Path;

/** What a file takes on disk, for the tests of the log's bound. */
public final class DiskUsage {
    private DiskUsage() {}

    /** Bytes of the file's allocated blocks, as {@code stat} reports them (less than its size once holes are punched). */
    public static long allocated(Path file) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("stat", "-c", "%b %B", file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        if (p.waitFor() != 0) {
            throw new IOException("stat " + file + ": " + out);
        }
        String[] f = out.split(" ");
        return Long.parseLong(f[0]) * Long.parseLong(f[1]);
    }
}
