package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Staleness counted in workers rather than versions: τ_w of an update based on version b is the number of
 * distinct workers whose updates made the versions after b. A worker that pushed ten times since b counts
 * once, so a fast client cannot age every other client's update by its own pace; where no worker merged
 * twice since b, τ_w equals the version staleness τ, and it never exceeds it.
 *
 * <p>Kept per worker: the last version its update made. Entries older than {@link #WINDOW} versions are
 * dropped once there are more than {@code WINDOW} of them (so at most {@code WINDOW + 1} are held, whatever
 * the number of workers); an update based further back counts only the workers of the last {@code WINDOW}
 * versions. An update without a worker counts as a worker of its own. Exported with the strategy's state, so
 * that a replay reaches the same τ_w bit for bit.
 */
final class WorkerClock {
    static final int WINDOW = 1024;
    private static final String KEY = "worker_clock/last";
    /** Keys of updates without a worker: their ids, set apart from worker ids. */
    private static final String ANONYMOUS = "\u0000";

    private final Map<String, Long> last = new HashMap<>();

    /** τ_w of an update based on {@code base}: the workers whose last update made a version after it. */
    long staleness(long base) {
        long n = 0;
        for (long v : last.values()) {
            if (v > base) {
                n++;
            }
        }
        return n;
    }

    /** Records that {@code u}'s update made {@code version}. */
    void published(Update u, long version) {
        last.put(u.worker().isEmpty() ? ANONYMOUS + u.id() : u.worker(), version);
        if (last.size() > WINDOW) {
            last.values().removeIf(v -> v <= version - WINDOW);
        }
    }

    /** Entries held (for the bound's test). */
    int size() {
        return last.size();
    }

    void write(TensorMap state) {
        StringBuilder out = new StringBuilder();
        last.entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(e -> out.append(out.isEmpty() ? "" : ",")
                .append(e.getValue()).append(':')
                .append(Base64.getUrlEncoder().withoutPadding().encodeToString(e.getKey().getBytes(StandardCharsets.UTF_8))));
        state.putMetadata(KEY, out.toString());
    }

    /**
     * Reads what {@link #write} wrote, checking all before changing anything; a state without it (written
     * under the version clock, or before this clock existed) starts empty.
     *
     * @throws IllegalArgumentException naming the entry that is not {@code version:worker} or lies after
     *                                  {@code version}
     */
    void read(TensorMap state, long version) {
        String s = state.metadata().get(KEY);
        List<Map.Entry<String, Long>> entries = new ArrayList<>();
        if (s != null && !s.isEmpty()) {
            for (String e : s.split(",", -1)) {
                int colon = e.indexOf(':');
                if (colon < 1 || !e.substring(0, colon).matches("\\d{1,18}")) {
                    throw bad(e, "not version:worker");
                }
                long v = Long.parseLong(e.substring(0, colon));
                if (v < 1 || v > version) {
                    throw bad(e, "version " + v + " is not in [1, " + version + "]");
                }
                try {
                    entries.add(Map.entry(new String(Base64.getUrlDecoder().decode(e.substring(colon + 1)),
                            StandardCharsets.UTF_8), v));
                } catch (IllegalArgumentException x) {
                    throw bad(e, "the worker is not base64");
                }
            }
        }
        last.clear();
        entries.forEach(e -> last.put(e.getKey(), e.getValue()));
    }

    private static IllegalArgumentException bad(String entry, String problem) {
        return new IllegalArgumentException("fedasync state: worker clock entry \"" + entry + "\": " + problem);
    }
}
