package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.http.StatusServer;
import dev.tributary.rl.actor.Actor;
import dev.tributary.rl.actor.ActorOptions;
import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.learner.Learner;
import dev.tributary.rl.learner.LearnerConfig;
import dev.tributary.rl.learner.MemoryBuffer;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The parts of {@code demo --rl} that can be checked quickly, without a full run: every flag before
 * anything starts, the monitor's reading of a real learner's /status and /metrics, the stop decision,
 * the rate, and the PNG.
 */
class RlDemoTest {
    @TempDir
    Path dir;

    @Test
    void badFlagsAreRefusedBeforeAnythingStarts() {
        Path out = dir.resolve("demo-rl");
        String[][] cases = {
            {"--workers", "0"}, {"--workers", "17"}, {"--algo", "dqn"}, {"--target-return", "501"},
            {"--target-return", "0"}, {"--target-return", "NaN"}, {"--max-steps", "0"}, {"--spread", "0.5"},
            {"--max-seconds", "0"}
        };
        for (String[] c : cases) {
            CliRunner r = CliRunner.run("demo", "--rl", "--out", out.toString(), c[0], c[1]);
            assertEquals(1, r.status(), String.join(" ", c) + ": " + r.err());
            String line = r.err().lines().findFirst().orElseThrow();
            assertTrue(line.startsWith("error: " + c[0]), String.join(" ", c) + " -> " + line);
            assertEquals(1, r.err().lines().count(), "one line: " + r.err());
            assertFalse(Files.exists(out), String.join(" ", c) + ": wrote " + out);
        }
    }

    @Test
    void flagsOfTheOtherDemoAreUsageErrors() {
        Path out = dir.resolve("demo-x");
        String[][] cases = {
            {"--rl", "--strategy", "fedbuff"}, {"--rl", "--task", "fmnist-mlp"}, {"--rl", "--target", "0.8"},
            {"--rl", "--partition", "iid"}, {"--target-return", "400"}, {"--algo", "ppo"}, {"--max-steps", "10"}
        };
        for (String[] c : cases) {
            String[] args = new String[c.length + 3];
            args[0] = "demo";
            args[1] = "--out";
            args[2] = out.toString();
            System.arraycopy(c, 0, args, 3, c.length);
            CliRunner r = CliRunner.run(args);
            assertEquals(2, r.status(), String.join(" ", c) + ": " + r.err());
            String flag = c[0].equals("--rl") ? c[1] : c[0];
            assertTrue(r.err().startsWith("error: " + flag), String.join(" ", c) + " -> " + r.err());
            assertFalse(Files.exists(out));
        }
    }

    /**
     * A real learner (in this JVM, on loopback) trained a few steps by an in-process actor: the monitor's
     * sample says what the learner says, and what its metrics count.
     */
    @Test
    void theMonitorReadsALearnersStatusAndMetrics() throws Exception {
        Environment env = ClassicControl.cartPole();
        LearnerConfig config = LearnerConfig.of("ppo", Map.of("steps_per_item", 16, "batch_items", 2));
        Learner learner = Learner.start(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)),
                "CartPole-v1", env.observationSpace(), env.actionSpace(), config, MemoryBuffer.inMemory(64),
                Tokens.of(List.of("monitor-test-token")), w -> { });
        ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:" + learner.port()).usePlaintext().build();
        try (StatusServer http = StatusServer.start(new InetSocketAddress("127.0.0.1", 0), learner::statusJson,
                        learner.metrics()::scrape);
                RlDemoMonitor monitor = new RlDemoMonitor(http.port())) {
            RlDemoMonitor.Sample before = monitor.sample(0);
            assertEquals(0, before.version());
            assertTrue(Double.isNaN(before.meanReturn()), "no episode yet");
            assertTrue(RlDemoMonitor.line(before, 0).contains("mean return   –  "), RlDemoMonitor.line(before, 0));
            Actor.Summary s;
            try (Actor a = new Actor(channel, "monitor-test-token", ClassicControl::cartPole,
                    ActorOptions.of("a", "CartPole-v1", 3).withMaxEnvSteps(16 * 4 * 6), w -> { })) {
                s = a.run();
            }
            long until = System.nanoTime() + 30_000_000_000L;
            // the version is published after the training step is counted (and checkpointed): wait for it
            while (learner.version() < 3 && System.nanoTime() < until) {
                Thread.sleep(50);
            }
            RlDemoMonitor.Sample now = monitor.sample(12.5);
            assertEquals(learner.version(), now.version());
            assertTrue(now.version() >= 3, "trained on 6 items: " + learner.statusJson());
            assertEquals(learner.envSteps(), now.envSteps());
            assertEquals(s.envSteps(), now.envSteps(), "every step the actor took was accepted");
            assertEquals(6, now.accepted());
            assertEquals(learner.episodes(), now.episodes());
            assertEquals(learner.trainSteps(), now.trainSteps());
            assertTrue(now.bytesIn() > 6 * 16 * 4 * 4 * 4, "experience bytes in: " + now.bytesIn());
            assertTrue(now.bytesOut() > 0, "policy bytes out");
            assertTrue(now.lagMean() >= 0 && now.lagMean() <= config.maxLag(), "lag " + now.lagMean());
            assertEquals(1, now.actors());
            assertEquals(12.5, now.seconds());
            String line = RlDemoMonitor.line(now, 123);
            assertTrue(line.contains("version " + String.format("%4d", now.version())), line);
            assertTrue(line.contains("(123/s)"), line);
            assertTrue(line.contains("env steps " + now.envSteps()), line);
        } finally {
            channel.shutdownNow();
            learner.close();
        }
    }

    static RlDemoMonitor.Sample sample(double seconds, long steps, long episodes, double mean) {
        return new RlDemoMonitor.Sample(seconds, 1, steps, 1, episodes, mean, 1, 0, 0, 1, 0, 0, 0);
    }

    @Test
    void theRunStopsAtAFullWindowOverTheTargetOrAtACap() {
        assertEquals("reached", RlDemoMonitor.stop(sample(10, 1000, 100, 475), 475, 300, 1_000_000));
        assertNull(RlDemoMonitor.stop(sample(10, 1000, 99, 500), 475, 300, 1_000_000), "the window is not full");
        assertNull(RlDemoMonitor.stop(sample(10, 1000, 400, 474.9), 475, 300, 1_000_000));
        assertNull(RlDemoMonitor.stop(sample(10, 1000, 400, Double.NaN), 475, 300, 1_000_000));
        assertEquals("time limit of 300 s", RlDemoMonitor.stop(sample(300.2, 1000, 400, 200), 475, 300, 1_000_000));
        assertEquals("step limit of 5000 environment steps", RlDemoMonitor.stop(sample(10, 5000, 400, 200), 475, 300, 5000));
    }

    @Test
    void stepsPerSecondIsMeasuredOverTheWindow() {
        ArrayDeque<RlDemoMonitor.Sample> w = new ArrayDeque<>();
        assertEquals(0, RlDemoMonitor.rate(w));
        w.add(sample(1, 1000, 0, Double.NaN));
        assertEquals(0, RlDemoMonitor.rate(w));
        w.add(sample(3, 2000, 0, Double.NaN));
        w.add(sample(5, 5000, 0, Double.NaN));
        assertEquals(1000, RlDemoMonitor.rate(w), 1e-9);
    }

    @Test
    void metricsAreSummedOverLabels() {
        Map<String, Double> m = DemoMonitor.parseMetrics("""
                # HELP tributary_experience_refused_total items refused
                # TYPE tributary_experience_refused_total counter
                tributary_experience_refused_total{reason="lag"} 3.0
                tributary_experience_refused_total{reason="shape"} 2.0
                tributary_experience_lag_sum 12.0
                tributary_experience_lag_count 4.0
                garbage
                """);
        assertEquals(5.0, m.get("tributary_experience_refused_total"));
        assertEquals(12.0, m.get("tributary_experience_lag_sum"));
        assertEquals(4.0, m.get("tributary_experience_lag_count"));
        assertEquals(3, m.size());
    }

    @Test
    void thePlotIsAPng() throws Exception {
        Path png = RlDemo.plot(dir.resolve("demo-rl/demo-return.png"), "ppo", 4, 4,
                List.of(new double[] {0, 20}, new double[] {30, 120}, new double[] {60, 480}), 475);
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head);
        assertTrue(Files.size(png) > 5_000, "a chart, not an empty image: " + Files.size(png));
    }

    @Test
    void actorsSpanTheSpreadGeometrically() {
        assertEquals(1, RlDemo.slowdown(0, 4, 4), 1e-12);
        assertEquals(Math.cbrt(4), RlDemo.slowdown(1, 4, 4), 1e-12);
        assertEquals(4, RlDemo.slowdown(3, 4, 4), 1e-12);
        assertEquals(1, RlDemo.slowdown(0, 1, 4), 1e-12);
    }
}
