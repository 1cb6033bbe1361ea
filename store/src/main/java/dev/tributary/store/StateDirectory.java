package dev.tributary.store;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The layout of a coordinator's {@code --state} folder: {@code updates.log} (every accepted update, in
 * order) and {@code checkpoint-*.safetensors}.
 */
public final class StateDirectory {
    public static final String LOG = "updates.log";
    public static final String LOCK = "lock";

    private StateDirectory() {}

    public static Path log(Path dir) {
        return dir.resolve(LOG);
    }

    /**
     * The ids of all accepted updates, in log order; a torn last record is not listed.
     *
     * @throws LogCorruptException when a record is damaged
     */
    public static List<String> acceptedUpdateIds(Path dir) throws IOException {
        List<String> ids = new ArrayList<>();
        LogScan.scan(log(dir), (start, end, r) -> {
            if (r instanceof AcceptedUpdate a) {
                ids.add(a.updateId());
            }
        });
        return ids;
    }
}
