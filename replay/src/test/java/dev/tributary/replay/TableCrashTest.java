package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.ExperienceRemoved;
import dev.tributary.store.Failpoints;
import dev.tributary.store.LogScan;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes: a table process ({@link TableCrashChild}: writers, a consumer that samples and removes,
 * periodic checkpoints with a caller state) is killed with SIGKILL at random moments, or halts itself at a
 * failpoint of the write path (a log append, write, fsync, an acknowledgment, each step of a checkpoint),
 * and is restarted over the same folder each time, its writers retrying from their first item. Afterwards
 * every id is in the log exactly once; every acknowledged item is in the table or was removed, never both;
 * no item whose removal was acknowledged is back; and the table recovered from its checkpoint and log equals
 * the table rebuilt from the log alone.
 */
class TableCrashTest {
    static final int WRITERS = 3;
    static final int ITEMS = 400;
    static final int QUOTA = 40;
    static final List<String> FAILPOINTS = List.of("log.append", "log.write", "log.written", "log.force", "log.forced",
            "replay.ack", "checkpoint.write", "checkpoint.rename", "checkpoint.renamed");

    @TempDir
    Path dir;

    final List<Process> processes = new ArrayList<>();
    int runs;

    @AfterEach
    void killAll() {
        processes.forEach(Process::destroyForcibly);
    }

    Process start(Path table, Path acks, String failpoint, int quota) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
        if (failpoint != null) {
            cmd.add("-Dtributary.failpoints=" + failpoint);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), TableCrashChild.class.getName(), table.toString(),
                acks.toString(), Integer.toString(WRITERS), Integer.toString(ITEMS), Integer.toString(quota)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("run-" + runs++ + (failpoint == null ? "" : "-" + failpoint) + ".out").toFile()).start();
        processes.add(p);
        return p;
    }

    /** Waits for a run armed with {@code fp}: true when it halted there, false when it was killed instead. */
    static boolean halted(Process p, String fp, List<String> history) throws InterruptedException {
        if (p.waitFor(30, TimeUnit.SECONDS)) {
            assertEquals(Failpoints.EXIT, p.exitValue(), fp + ": exit status");
            return true;
        }
        p.destroyForcibly();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        history.add("(" + fp + " not reached: killed)");
        return false;
    }

    static int acknowledged(Path acks) throws IOException {
        int n = 0;
        for (int w = 0; w < WRITERS; w++) {
            n += lines(acks.resolve("acks-" + w)).size();
        }
        return n;
    }

    /** Complete lines only: a kill can cut the last one short. */
    static List<String> lines(Path file) throws IOException {
        if (!Files.exists(file)) {
            return List.of();
        }
        String s = Files.readString(file, StandardCharsets.UTF_8);
        int end = s.lastIndexOf('\n');
        return end < 0 ? List.of() : s.substring(0, end + 1).lines().toList();
    }

    @Test
    void everyAcknowledgedItemSurvivesKillsAndFailpointsExactlyOnce() throws Exception {
        Path table = dir.resolve("table");
        Path acks = dir.resolve("acks");
        Files.createDirectories(acks);
        Random random = new Random(9);
        List<String> history = new ArrayList<>();
        List<String> failpoints = new ArrayList<>(FAILPOINTS);
        Collections.shuffle(failpoints, random);
        // Every failpoint once, with a kill at a random moment before every third one.
        int halts = 0;
        for (int k = 0; k < failpoints.size() + (failpoints.size() + 2) / 3; k++) {
            long began = System.nanoTime();
            Process p;
            if (k % 4 == 0) {
                int before = acknowledged(acks);
                p = start(table, acks, null, QUOTA);
                // Killed once it is at work: a random moment after its first acknowledgment.
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (p.isAlive() && acknowledged(acks) <= before && System.nanoTime() < until) {
                    Thread.sleep(5);
                }
                Thread.sleep(random.nextInt(300));
                p.destroyForcibly();
                assertTrue(p.waitFor(10, TimeUnit.SECONDS));
                history.add("killed");
            } else {
                String name = failpoints.get(k - k / 4 - 1);
                String fp = name + "@" + (1 + random.nextInt(name.startsWith("checkpoint") ? 3 : 60));
                p = start(table, acks, fp, QUOTA);
                history.add(fp);
                if (!halted(p, fp, history)) {
                    // A run whose writers met their quota with mostly retried ids may write fewer records than
                    // N: it was killed instead, at a moment as random as any other, and the failpoint is armed
                    // again at its first pass.
                    fp = name + "@1";
                    p = start(table, acks, fp, QUOTA);
                    history.add(fp);
                    halted(p, fp, history);
                }
                if (p.exitValue() == Failpoints.EXIT) {
                    halts++;
                }
            }
            history.add("exit " + p.exitValue() + " after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began) + " ms, "
                    + acknowledged(acks) + " acknowledgments so far");
        }
        long began = System.nanoTime();
        Process last = start(table, acks, null, 0);
        assertTrue(last.waitFor(90, TimeUnit.SECONDS), "the last run finished: " + history);
        history.add("last run " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began) + " ms");
        assertEquals(0, last.exitValue(), "the last run's exit status");
        assertTrue(halts >= FAILPOINTS.size() - 2, "halted at " + halts + " of " + FAILPOINTS.size() + " failpoints: " + history);

        Set<String> all = new HashSet<>();
        for (int w = 0; w < WRITERS; w++) {
            for (int i = 0; i < ITEMS; i++) {
                all.add(TableCrashChild.id(w, i));
            }
        }
        Set<String> acked = new HashSet<>();
        for (int w = 0; w < WRITERS; w++) {
            lines(acks.resolve("acks-" + w)).forEach(l -> acked.add(l.substring(0, l.indexOf(' '))));
        }
        assertEquals(all, acked, "every item was acknowledged in the end");

        List<String> inserted = Table.insertedIds(table);
        Map<String, Integer> times = new HashMap<>();
        inserted.forEach(id -> times.merge(id, 1, Integer::sum));
        for (String id : acked) {
            assertEquals(1, times.getOrDefault(id, 0), "acknowledged item " + id + " in the log");
        }
        assertEquals(acked, times.keySet(), "nothing but acknowledged items in the log");

        Set<String> gone = new HashSet<>();
        LogScan.scan(table.resolve(Table.LOG), (s, e, r) -> {
            if (r instanceof ExperienceRemoved x) {
                for (String id : x.ids()) {
                    assertTrue(gone.add(id), id + " removed twice");
                }
            }
        });
        List<String> recovered;
        try (Table t = TestItems.open(table, TableCrashChild.CONFIG)) {
            Set<String> live = new HashSet<>();
            t.snapshot().forEach(i -> live.add(i.id()));
            for (String id : acked) {
                assertTrue(live.contains(id) ^ gone.contains(id), id + ": in the table or removed, exactly one of them");
            }
            for (String id : lines(acks.resolve("removed"))) {
                assertTrue(!live.contains(id), "item " + id + " came back after its removal was acknowledged");
            }
            assertEquals(acked.size(), t.inserted());
            assertEquals(t.inserted() - t.removed(), t.size());
            TensorMap caller = t.lastCallerState().orElseThrow();
            assertEquals("true", caller.metadata().get("final"), "the last checkpoint's caller state");
            assertEquals(caller.metadata().get("acked"), Long.toString(caller.get("progress").data().get(Tensor.I64_LE, 0)));
            recovered = TestItems.content(t);
        }
        Path logOnly = dir.resolve("log-only");
        Files.createDirectories(logOnly);
        Files.copy(table.resolve(Table.LOG), logOnly.resolve(Table.LOG));
        try (Table t = TestItems.open(logOnly, TableCrashChild.CONFIG)) {
            assertEquals(recovered, TestItems.content(t), "checkpoint + log tail = the whole log replayed");
        }
    }
}
