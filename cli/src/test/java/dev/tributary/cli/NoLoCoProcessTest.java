package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * NoLoCo over real processes, as README's commands run it: {@code serve --strategy noloco} and three
 * {@code work} processes that find out the strategy themselves. The coordinator is killed with SIGKILL
 * while they exchange and started again on the same state; the workers carry on and finish. From the
 * exchange logs the workers force to disk: every round of every worker was exchanged exactly once, no
 * exchange number was answered twice, every peer state a worker stepped with is bit for bit (SHA-256)
 * what that peer offered for that round, and the restarted relay still held the states it had
 * acknowledged (the first exchange after the restart is paired with its peer's latest state from before the
 * kill).
 */
class NoLoCoProcessTest {
    static final String TOKEN = "noloco-process-token-0123456789";
    static final int WORKERS = 3;
    static final int EXCHANGES = 20;
    static final Pattern LINE = Pattern.compile("exchange \\d+: round \\d+, loss (\\d+\\.\\d{4}|n/a), \\d+ examples, "
            + "[\\d.]+ (KiB|MiB) up, (paired with w\\d \\(its round \\d+\\), [\\d.]+ (KiB|MiB) down|no peer yet: stepped alone), "
            + "\\d+\\.\\d\\d s");
    static final Pattern RESTORED = Pattern.compile("relay: (\\d+) outer states held, (\\d+) exchanges so far");

    @TempDir
    Path dir;

    ChildJvm.Children children;

    @org.junit.jupiter.api.BeforeEach
    void children() {
        children = new ChildJvm.Children(dir);
    }

    @AfterEach
    void killAll() {
        children.killAll();
    }

    Process spawn(String name, String... args) throws IOException {
        return children.spawn(name, List.of(), args);
    }

    String output(String name) throws IOException {
        return children.output(name);
    }

    Process serve(String name, int port, int httpPort) throws IOException {
        return spawn(name, "serve", "--state", dir.resolve("state").toString(), "--init", dir.resolve("init.safetensors").toString(),
                "--strategy", "noloco", "--config", dir.resolve("noloco.yaml").toString(), "--port", Integer.toString(port),
                "--http-port", Integer.toString(httpPort), "--tokens", dir.resolve("tokens").toString());
    }

    /** One exchange as a worker logged it. */
    record Done(long exchange, String name, long round, String sha, String peer, long peerRound, String peerSha) {}

    @Test
    void workersCarryOnThroughAKilledCoordinatorAndEveryExchangeIsConsistent() throws Exception {
        assertEquals(0, CliRunner.run("init", "--task", "synthetic-logreg", "--out", dir.resolve("init.safetensors").toString()).status());
        Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
        // H 50 keeps rounds short. The lease is the default 15 s: restored states wait that long for their workers.
        Files.writeString(dir.resolve("noloco.yaml"), "strategy:\n  inner_steps: 50\n  seed: 7\n");
        int port = CoordinatorCrashTest.freePort();
        int httpPort = CoordinatorCrashTest.freePort();
        Process coordinator = serve("serve-0", port, httpPort);
        CoordinatorCrashTest.awaitStatus(httpPort, coordinator);

        List<Process> workers = new ArrayList<>();
        for (int w = 0; w < WORKERS; w++) {
            workers.add(spawn("work-" + w, "work", "--coordinator", "127.0.0.1:" + port, "--token", TOKEN, "--task",
                    "synthetic-logreg", "--worker", Integer.toString(w), "--workers", Integer.toString(WORKERS), "--name", "w" + w,
                    "--updates", Integer.toString(EXCHANGES), "--ack-log", dir.resolve("exchanges-" + w + ".log").toString(),
                    "--max-backoff", "0.3", "--slowdown", "2"));
        }
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(CoordinatorCrashTest.START_SECONDS);
        // Kill once every worker exchanged three times, or once every worker exchanged and the fastest is half
        // way (workers start at different times: on a fast machine one could otherwise finish before the
        // slowest made three). Each must have exchanged once, for the relay to hold a state of each.
        while (minLogged() < 1 || (minLogged() < 3 && maxLogged() < EXCHANGES / 2)) {
            assertTrue(System.nanoTime() < until && workers.stream().allMatch(Process::isAlive), "no three exchanges each: "
                    + output("work-0") + output("serve-0"));
            Thread.sleep(20);
        }
        assertTrue(maxLogged() < EXCHANGES, "the kill must come mid-run");
        coordinator.destroyForcibly().waitFor();
        Thread.sleep(200);
        coordinator = serve("serve-1", port, httpPort);
        CoordinatorCrashTest.awaitStatus(httpPort, coordinator);
        for (int w = 0; w < WORKERS; w++) {
            Process p = workers.get(w);
            assertTrue(p.waitFor(CoordinatorCrashTest.START_SECONDS, TimeUnit.SECONDS), "worker " + w + " did not finish: " + output("work-" + w));
            assertEquals(0, p.exitValue(), output("work-" + w));
        }

        String restarted = output("serve-1");
        Matcher m = RESTORED.matcher(restarted);
        assertTrue(m.find(), restarted);
        int heldAtRestart = Integer.parseInt(m.group(1));
        long countAtRestart = Long.parseLong(m.group(2));
        assertEquals(WORKERS, heldAtRestart, "every worker's acknowledged state survived the kill: " + restarted);

        Map<String, List<Done>> logs = new HashMap<>();
        Set<Long> numbers = new HashSet<>();
        Done firstAfterRestart = null;
        for (int w = 0; w < WORKERS; w++) {
            List<Done> done = Files.readAllLines(dir.resolve("exchanges-" + w + ".log")).stream().map(NoLoCoProcessTest::parse).toList();
            assertEquals(EXCHANGES, done.size(), "worker " + w + ": " + done);
            for (int r = 0; r < done.size(); r++) {
                Done d = done.get(r);
                assertEquals("w" + w, d.name());
                assertEquals(r, d.round(), "rounds are exchanged once each, in order: " + done);
                assertTrue(numbers.add(d.exchange()), "exchange " + d.exchange() + " answered twice");
                if (r > 0) {
                    assertTrue(d.exchange() > done.get(r - 1).exchange(), "exchange numbers grow: " + done);
                }
                if (d.exchange() == countAtRestart + 1) {
                    firstAfterRestart = d;
                }
            }
            logs.put("w" + w, done);
            String out = output("work-" + w);
            assertFalse(out.contains("\tat ") || out.contains("Exception"), out);
            List<String> lines = out.lines().filter(l -> l.startsWith("exchange ")).toList();
            assertEquals(EXCHANGES, lines.size(), out);
            lines.forEach(l -> assertTrue(LINE.matcher(l).matches(), l));
            assertTrue(out.contains(EXCHANGES + " exchanges ("), out);
        }
        for (List<Done> done : logs.values()) {
            for (Done d : done) {
                // The relay keeps every worker's latest state (also through the restart), so an exchange steps
                // alone exactly when no other worker had exchanged before it.
                boolean othersBefore = logs.values().stream().flatMap(List::stream)
                        .anyMatch(o -> !o.name().equals(d.name()) && o.exchange() < d.exchange());
                assertEquals(othersBefore, d.peer() != null, "found a peer exactly when another worker had offered: " + d);
                if (d.peer() == null) {
                    continue;
                }
                assertFalse(d.peer().equals(d.name()), "paired with itself: " + d);
                Done offered = logs.get(d.peer()).get((int) d.peerRound());
                assertEquals(offered.sha(), d.peerSha(), d + " stepped with what " + offered + " offered");
            }
        }
        assertNotNull(firstAfterRestart, "the first exchange after the restart (" + (countAtRestart + 1) + ") was answered");
        assertNotNull(firstAfterRestart.peer(), "the restarted relay paired it with a held state: " + firstAfterRestart);
        // Nothing committed after the restart comes before exchange countAtRestart + 1, so its peer is a state the
        // relay held at the restart, and it must be that worker's latest: the last one acknowledged before the kill,
        // or the one after it when the kill came between its commit and its answer (the worker then offered that
        // round again, and its log names the later exchange that answered it).
        List<Done> peerLog = logs.get(firstAfterRestart.peer());
        long acknowledged = peerLog.stream().filter(d -> d.exchange() <= countAtRestart).count();
        long heldRound = firstAfterRestart.peerRound();
        assertTrue(acknowledged > 0 && (heldRound == acknowledged - 1 || heldRound == acknowledged),
                "the state held through the kill is the peer's latest (" + acknowledged + " acknowledged before it): "
                        + firstAfterRestart + " in " + peerLog);
        assertTrue(CoordinatorCrashTest.get(httpPort, "/metrics").contains("tributary_relay_exchanges_total"));
    }

    static Done parse(String line) {
        String[] f = line.split("\t");
        assertEquals(7, f.length, line);
        boolean alone = f[4].equals("-");
        return new Done(Long.parseLong(f[0]), f[1], Long.parseLong(f[2]), f[3], alone ? null : f[4],
                alone ? -1 : Long.parseLong(f[5]), alone ? null : f[6]);
    }

    long minLogged() throws IOException {
        long min = Long.MAX_VALUE;
        for (int w = 0; w < WORKERS; w++) {
            min = Math.min(min, logged(w));
        }
        return min;
    }

    long maxLogged() throws IOException {
        long max = 0;
        for (int w = 0; w < WORKERS; w++) {
            max = Math.max(max, logged(w));
        }
        return max;
    }

    long logged(int w) throws IOException {
        Path p = dir.resolve("exchanges-" + w + ".log");
        return Files.exists(p) ? Files.readAllLines(p).size() : 0;
    }
}
