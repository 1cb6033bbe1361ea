package dev.tributary.store;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Named points on the write path where fault-injection tests stop the process or perturb the timing.
 * In production nothing is armed and a hit costs one volatile read.
 *
 * <p>A process started with {@code -Dtributary.failpoints=NAME[@N][,…]} halts with status {@link #EXIT}
 * (like {@code kill -9}: no shutdown hooks, nothing flushed) at the N-th hit of NAME (the first when
 * {@code @N} is left out). Tests in one JVM install a handler instead, which may sleep, yield or throw.
 *
 * <p>The points: {@code log.append} (a record is queued), {@code log.write} (before a slice is written),
 * {@code log.written} (a record is wholly written, not yet forced), {@code log.force} (before an fsync),
 * {@code log.forced} (after an fsync, before its records are acknowledged), {@code checkpoint.write}
 * (before the temporary file), {@code checkpoint.rename} (written and forced, before the rename),
 * {@code checkpoint.renamed} (renamed, before the folder is forced), {@code compact.write} (a compacted
 * chunk written, before it is forced), {@code compact.rename} (forced, before the rename),
 * {@code compact.renamed} (renamed and the folder forced, before the hole is punched), {@code compact.punched}
 * (after it), {@code compact.merged} (chunks folded into one, before the old ones are deleted), {@code publish} (a version is durable,
 * before it becomes visible) and {@code ack} (an update is durable, before the worker is told).
 */
public final class Failpoints {
    /** The exit status of a process halted at a failpoint. */
    public static final int EXIT = 86;

    private static final Map<String, Long> ARMED = parse(System.getProperty("tributary.failpoints", ""));
    private static final Map<String, AtomicLong> HITS = new ConcurrentHashMap<>();
    private static volatile Consumer<String> handler;

    private Failpoints() {}

    /** Marks that the write path passed {@code name}. */
    public static void hit(String name) {
        Consumer<String> h = handler;
        if (h != null) {
            h.accept(name);
        }
        if (!ARMED.isEmpty()) {
            Long at = ARMED.get(name);
            if (at != null && HITS.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet() == at) {
                System.err.println("failpoint " + name + "@" + at + ": halting");
                System.err.flush();
                Runtime.getRuntime().halt(EXIT);
            }
        }
    }

    /** Installs (or, with null, removes) a handler every hit goes through; for tests in one JVM. */
    public static void install(Consumer<String> h) {
        handler = h;
    }

    static Map<String, Long> parse(String spec) {
        Map<String, Long> out = new ConcurrentHashMap<>();
        for (String part : spec.split(",")) {
            String p = part.strip();
            if (p.isEmpty()) {
                continue;
            }
            int at = p.indexOf('@');
            String name = at < 0 ? p : p.substring(0, at);
            long n;
            try {
                n = at < 0 ? 1 : Long.parseLong(p.substring(at + 1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("tributary.failpoints: \"" + p + "\" is not NAME or NAME@N");
            }
            if (n < 1) {
                throw new IllegalArgumentException("tributary.failpoints: \"" + p + "\": N must be ≥ 1");
            }
            out.put(name, n);
        }
        return out;
    }
}
