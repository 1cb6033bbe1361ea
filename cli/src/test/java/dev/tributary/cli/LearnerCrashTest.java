package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.Failpoints;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real processes: a learner ({@code tributary learn}, PPO on CartPole-v1, its buffer the durable replay
 * table) is killed with SIGKILL at random moments, and halts itself at failpoints of the write path (the
 * table's log append, write, fsync, its checkpoints' write and rename, the acknowledgment), while three
 * actors of different speeds push experience; it is started again over the same {@code --state} each time.
 * Afterwards: every id any actor recorded as acknowledged is in {@code tributary log --state DIR} exactly
 * once and every logged id was acknowledged (a push repeated after a restart is a duplicate, however old);
 * versions never went back; each restart resumed version, training steps and the optimizer's step count
 * together from the checkpoint; the actors rode out every restart and finished.
 */
class LearnerCrashTest {
    static final String TOKEN = "learner-crash-token-0123456789";
    static final List<String> FAILPOINTS = List.of("log.append", "log.write", "log.written", "log.force", "log.forced",
            "checkpoint.write", "checkpoint.rename", "checkpoint.renamed", "replay.ack");
    /** PPO's Adam steps per training step: CleanRL's 4 epochs of 4 minibatches. */
    static final int ADAM_STEPS_PER_TRAIN_STEP = 16;
    /** How long a JVM may take to start and load PyTorch: minutes when the 2 cores run 20 other threads. */
    static final long START_SECONDS = 180;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    final List<Process> processes = new ArrayList<>();
    int learners;

    @AfterEach
    void killAll() {
        for (Process p : processes) {
            p.destroyForcibly();
        }
    }

    Process spawn(String name, String failpoint, String... args) throws IOException {
        List<String> jvm = new ArrayList<>(List.of("-Xmx384m", "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.offline=true"));
        if (failpoint != null) {
            jvm.add("-Dtributary.failpoints=" + failpoint);
        }
        List<String> cmd = ChildJvm.command(jvm, args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".out").toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        Process p = pb.start();
        processes.add(p);
        return p;
    }

    Process learn(Path state, int port, int httpPort, String failpoint) throws IOException {
        return spawn("learn-" + learners++, failpoint, "learn", "--env", "CartPole-v1", "--algo", "ppo",
                "--state", state.toString(), "--config", dir.resolve("learner.yaml").toString(), "--host", "127.0.0.1",
                "--port", Integer.toString(port), "--http-port", Integer.toString(httpPort),
                "--tokens", dir.resolve("tokens").toString());
    }

    /** The learner's /status once it answers, or an error naming its last words. */
    String awaitUp(int httpPort, Process learner) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (System.nanoTime() < until && learner.isAlive()) {
            try {
                return CoordinatorCrashTest.get(httpPort, "/status");
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError("the learner did not come up: " + Files.readString(dir.resolve("learn-" + (learners - 1) + ".out")));
    }

    /** As {@link #awaitUp}, but null when the learner halted at its failpoint before it answered. */
    String awaitUpOrHalted(int httpPort, Process learner) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (System.nanoTime() < until && learner.isAlive()) {
            try {
                return CoordinatorCrashTest.get(httpPort, "/status");
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        return learner.isAlive() ? awaitUp(httpPort, learner) : null;
    }

    record Run(int kills, int halts, long version, String status) {}

    /**
     * Starts a learner and {@code actors} actors of {@code stepsEach} environment steps, then for each entry
     * of {@code plan} kills the learner (null) or restarts it with that failpoint armed, and restarts it over
     * the same state; {@code stopWhen} (on /status) ends the run early (for the long version).
     */
    Run run(int actors, long stepsEach, List<String> plan, Random random, long killAfterMillis,
            java.util.function.Predicate<String> stopWhen) throws Exception {
        Files.writeString(dir.resolve("tokens"), TOKEN + "\n");
        Path state = dir.resolve("state");
        int port = CoordinatorCrashTest.freePort();
        int httpPort = CoordinatorCrashTest.freePort();
        Process learner = learn(state, port, httpPort, null);
        awaitUp(httpPort, learner);
        List<Process> acting = new ArrayList<>();
        for (int i = 0; i < actors; i++) {
            acting.add(spawn("actor-" + i, null, "act", "--learner", "127.0.0.1:" + port, "--token", TOKEN,
                    "--env", "CartPole-v1", "--seed", Integer.toString(i + 1), "--steps", Long.toString(stepsEach),
                    "--slowdown", Double.toString(1 + i), "--max-backoff", "0.3",
                    "--ack-log", dir.resolve("acks-" + i + ".txt").toString()));
        }
        int kills = 0;
        int halts = 0;
        long seen = 0;
        for (String fp : plan) {
            if (acting.stream().noneMatch(Process::isAlive)) {
                break;
            }
            // A random moment once this learner took experience in (JVMs start slowly on a loaded machine).
            seen = awaitAccepted(httpPort, learner, seen);
            long pause = killAfterMillis / 2 + random.nextLong(killAfterMillis);
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pause);
            while (System.nanoTime() < until) {
                seen = Math.max(seen, observedVersion(httpPort, seen));
                Thread.sleep(50);
            }
            if (fp == null) {
                learner.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                kills++;
            } else {
                learner.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                learner = learn(state, port, httpPort, fp);
                String up = awaitUpOrHalted(httpPort, learner);
                if (up != null) {
                    seen = checkResumed(up, seen);
                }
                long halt = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (learner.isAlive() && System.nanoTime() < halt) {
                    seen = Math.max(seen, observedVersion(httpPort, seen));
                    Thread.sleep(50);
                }
                if (!learner.isAlive()) {
                    assertEquals(Failpoints.EXIT, learner.exitValue(), "halted at " + fp + ": "
                            + Files.readString(dir.resolve("learn-" + (learners - 1) + ".out")));
                    halts++;
                } else {
                    learner.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                    kills++;
                }
            }
            learner = learn(state, port, httpPort, null);
            seen = checkResumed(awaitUp(httpPort, learner), seen);
        }
        String last = CoordinatorCrashTest.get(httpPort, "/status");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(stopWhen == null ? 8 : 25);
        while (acting.stream().anyMatch(Process::isAlive) && System.nanoTime() < deadline) {
            last = CoordinatorCrashTest.get(httpPort, "/status");
            if (stopWhen != null && stopWhen.test(last)) {
                break;
            }
            Thread.sleep(500);
        }
        if (stopWhen != null) {
            for (Process a : acting) {
                a.destroy();
            }
        }
        for (int i = 0; i < acting.size(); i++) {
            Process a = acting.get(i);
            assertTrue(a.waitFor(60, TimeUnit.SECONDS), "actor " + i + " did not finish");
            if (stopWhen == null) {
                assertEquals(0, a.exitValue(), "actor " + i + ": " + Files.readString(dir.resolve("actor-" + i + ".out")));
            }
        }
        last = CoordinatorCrashTest.get(httpPort, "/status");
        long version = CoordinatorCrashTest.field(last, "version");
        assertTrue(version >= seen, "version went back from " + seen + " to " + version);
        learner.destroy();
        assertTrue(learner.waitFor(60, TimeUnit.SECONDS), "the learner did not stop");
        return new Run(kills, halts, version, last);
    }

    /** Waits (up to START_SECONDS) until the running learner accepted an item; returns the highest version seen. */
    long awaitAccepted(int httpPort, Process learner, long seen) throws Exception {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        while (System.nanoTime() < until && learner.isAlive()) {
            try {
                String st = CoordinatorCrashTest.get(httpPort, "/status");
                long v = CoordinatorCrashTest.field(st, "version");
                assertTrue(v >= seen, "version went back from " + seen + " to " + v);
                seen = v;
                if (CoordinatorCrashTest.field(st, "accepted") > 0) {
                    return seen;
                }
            } catch (IOException e) {
                // not up yet
            }
            Thread.sleep(100);
        }
        return seen;
    }

    /** The version /status shows now, or {@code seen} when the learner is away; never lower than seen. */
    static long observedVersion(int httpPort, long seen) throws InterruptedException {
        try {
            long v = CoordinatorCrashTest.field(CoordinatorCrashTest.get(httpPort, "/status"), "version");
            assertTrue(v >= seen, "version went back from " + seen + " to " + v);
            return v;
        } catch (IOException e) {
            return seen;
        }
    }

    /**
     * A learner just started over the state: its version is at least the highest any learner before it
     * showed, and version, training steps and the optimizer's steps come from one checkpoint together.
     */
    static long checkResumed(String status, long seen) {
        long v = CoordinatorCrashTest.field(status, "version");
        long trained = CoordinatorCrashTest.field(status, "train_steps");
        long adam = CoordinatorCrashTest.field(status, "optimizer_steps");
        assertTrue(v >= seen, "version went back from " + seen + " to " + v + ": " + status);
        // Restored together they are equal; actors may already have started the next training step, never more.
        assertTrue(trained == v || trained == v + 1, "one version per training step: " + status);
        assertTrue(adam >= v * ADAM_STEPS_PER_TRAIN_STEP && adam <= (v + 1) * ADAM_STEPS_PER_TRAIN_STEP,
                "the optimizer resumed with the policy: " + status);
        return v;
    }

    /** Every acknowledged id in the learner's log exactly once, and only acknowledged ids there. */
    void checkLog(int actors, boolean allAcknowledged) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertEquals(0, Main.run(new PrintWriter(out), new PrintWriter(err), "log", "--state", dir.resolve("state").toString()),
                err.toString());
        List<String> logged = out.toString().lines().toList();
        Map<String, Integer> counts = new HashMap<>();
        logged.forEach(id -> counts.merge(id, 1, Integer::sum));
        assertEquals(logged.size(), counts.size(), "an item id appears twice in the log");
        Set<String> acked = new HashSet<>();
        int lines = 0;
        for (int i = 0; i < actors; i++) {
            List<String> acks = Files.readAllLines(dir.resolve("acks-" + i + ".txt"));
            lines += acks.size();
            acked.addAll(acks);
        }
        assertEquals(lines, acked.size(), "an id acknowledged twice");
        assertTrue(acked.size() > 0);
        for (String id : acked) {
            assertEquals(1, counts.getOrDefault(id, 0), "acknowledged item " + id + " in the log");
        }
        if (allAcknowledged) {
            assertEquals(acked, counts.keySet(), "every logged item was acknowledged (retries are duplicates)");
        }
    }

    long retries(int actors) throws IOException {
        long retries = 0;
        for (int i = 0; i < actors; i++) {
            Matcher m = Pattern.compile("(\\d+) retries").matcher(Files.readString(dir.resolve("actor-" + i + ".out")));
            assertTrue(m.find(), "actor " + i + " printed its summary");
            retries += Long.parseLong(m.group(1));
        }
        return retries;
    }

    @Test
    void everyAcknowledgedItemSurvivesKillsAndFailpointsExactlyOnce() throws Exception {
        Files.writeString(dir.resolve("learner.yaml"), "steps_per_item: 32\nbatch_items: 2\nmax_lag: 8\n");
        Random random = new Random(Long.getLong("tributary.seed", System.nanoTime()));
        List<String> plan = new ArrayList<>();
        plan.add(null);
        plan.add(FAILPOINTS.get(random.nextInt(FAILPOINTS.size())) + "@" + (1 + random.nextInt(4)));
        plan.add(null);
        plan.add(FAILPOINTS.get(random.nextInt(FAILPOINTS.size())) + "@" + (1 + random.nextInt(4)));
        plan.add(null);
        // Enough steps that no actor finishes before the plan's last restart, on a quiet machine too (with 4,000
        // the actors could all be done after two kills, and the loop stops killing once nobody acts).
        Run r = run(3, 12000, plan, random, 1500, null);
        checkLog(3, true);
        assertTrue(r.kills() + r.halts() >= 4, "killed " + r.kills() + " times, halted " + r.halts() + ": " + plan);
        assertTrue(r.kills() >= 3, "killed " + r.kills() + " times");
        assertTrue(retries(3) > 0, "the kills hit the actors while they were pushing");
        assertTrue(CoordinatorCrashTest.field(r.status(), "version") > 0, r.status());
    }

    /** The long version: training to CartPole-v1's threshold of 475 through three kills. */
    @Test
    @EnabledIfSystemProperty(named = "tributary.long", matches = "true")
    void solvesCartPoleThroughThreeKills() throws Exception {
        Files.writeString(dir.resolve("learner.yaml"), "total_steps: 500000\n");
        Random random = new Random(Long.getLong("tributary.seed", 1));
        double[] best = {0};
        Run r = run(3, 0, java.util.Arrays.asList(null, null, null), random, 60_000, status -> {
            Matcher m = Pattern.compile("\"mean_return\":([0-9.]+)").matcher(status);
            if (m.find() && CoordinatorCrashTest.field(status, "episodes") >= 100) {
                best[0] = Math.max(best[0], Double.parseDouble(m.group(1)));
            }
            return best[0] >= 475;
        });
        checkLog(3, false);
        assertEquals(3, r.kills());
        assertTrue(best[0] >= 475, "best mean return " + best[0] + ": " + r.status());
    }
}
