package dev.tributary.cli;

import dev.tributary.rl.learner.LearnerConfig;
import dev.tributary.sim.Plots;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;

/**
 * {@code tributary demo --rl}: a real learner and actor processes of different speeds on loopback solve
 * CartPole-v1; live progress from the learner's /status and /metrics, a PNG of the mean return over time.
 * Every flag is checked before any process starts or anything is written.
 */
final class RlDemo implements Callable<Integer> {
    static final String ENV = "CartPole-v1";
    static final double DEFAULT_TARGET = 475;
    static final long DEFAULT_MAX_STEPS = 1_000_000;
    /** The federated demo's flags, refused with --rl. */
    static final List<String> FEDERATED_ONLY = List.of("--strategy", "--task", "--target", "--partition");

    private final DemoCommand c;

    RlDemo(DemoCommand c) {
        this.c = c;
    }

    @Override
    public Integer call() throws Exception {
        CommandLine cl = c.spec.commandLine();
        for (String f : FEDERATED_ONLY) {
            if (cl.getParseResult().hasMatchedOption(f)) {
                throw new CommandLine.ParameterException(cl, f + " is a flag of the federated demo, not of --rl"
                        + " (which trains " + ENV + " with --algo)");
            }
        }
        String algo = c.algo == null ? "ppo" : c.algo;
        double target = c.targetReturn == null ? DEFAULT_TARGET : c.targetReturn;
        long maxSteps = c.maxSteps == null ? DEFAULT_MAX_STEPS : c.maxSteps;
        Path out = c.out == null ? Path.of(".tributary/demo-rl") : c.out;
        if (c.workers < 1 || c.workers > 16) {
            throw new UserException("--workers " + c.workers + ": must be between 1 and 16 (the actors)");
        }
        if (!LearnerConfig.ALGOS.contains(algo)) {
            throw new UserException("--algo \"" + algo + "\": expected one of " + String.join(", ", LearnerConfig.ALGOS));
        }
        if (!(target > 0 && target <= 500)) {
            throw new UserException("--target-return " + target + ": must be in (0, 500] (a CartPole-v1 episode returns at most 500)");
        }
        if (maxSteps < 1) {
            throw new UserException("--max-steps " + maxSteps + ": must be at least 1");
        }
        if (!(c.spread >= 1) || Double.isInfinite(c.spread)) {
            throw new UserException("--spread " + c.spread + ": must be a finite number of at least 1");
        }
        if (c.maxSeconds < 1) {
            throw new UserException("--max-seconds " + c.maxSeconds + ": must be at least 1");
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new UserException("--out " + out + ": not a folder");
        }
        PrintWriter o = cl.getOut();
        o.printf("demo --rl: a %s learner and %d actors (%.1fx speed spread) solve %s; target mean return %.0f%n",
                algo, c.workers, c.spread, ENV, target);
        o.flush();
        Path dir = out.toAbsolutePath();
        Path state = dir.resolve("state");
        DemoCommand.deleteTree(state);
        Files.createDirectories(dir);
        String token = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, token + "\n");
        int grpcPort = DemoCommand.freePort();
        int httpPort = DemoCommand.freePort();
        List<Process> processes = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        Thread cleanup = new Thread(() -> processes.forEach(Process::destroy));
        Runtime.getRuntime().addShutdownHook(cleanup);
        RlDemoMonitor monitor = new RlDemoMonitor(httpPort);
        try {
            o.printf("demo --rl: learner on 127.0.0.1:%d, status on http://127.0.0.1:%d/status%n", grpcPort, httpPort);
            logs.add(dir.resolve("learner.log"));
            processes.add(DemoCommand.start(logs.getFirst(), List.of(DemoCommand.ONE_TORCH_THREAD), "learn", "--env", ENV,
                    "--algo", algo, "--state", state.toString(), "--host", "127.0.0.1", "--port", Integer.toString(grpcPort),
                    "--http-port", Integer.toString(httpPort), "--tokens", tokens.toString()));
            o.println("demo --rl: waiting for the learner to answer (a JVM start, PyTorch loading, an empty buffer)…");
            o.flush();
            monitor.awaitUp(processes.getFirst(), logs.getFirst(), 90);
            for (int i = 0; i < c.workers; i++) {
                double slowdown = slowdown(i, c.workers, c.spread);
                o.printf(Locale.ROOT, "demo --rl: actor %d, %.1fx slower than the fastest%n", i, slowdown);
                logs.add(dir.resolve("actor-" + i + ".log"));
                processes.add(DemoCommand.start(logs.getLast(), List.of(DemoCommand.ONE_TORCH_THREAD), "act",
                        "--learner", "127.0.0.1:" + grpcPort, "--token", token, "--env", ENV,
                        "--seed", Long.toString(c.seed + i + 1), "--name", "actor-" + i,
                        "--slowdown", String.format(Locale.ROOT, "%.3f", slowdown)));
            }
            o.println("demo --rl: actors are loading PyTorch; the first experience follows in a few seconds…");
            o.flush();
            RlDemoMonitor.Outcome r = monitor.run(o, target, c.maxSeconds, maxSteps, processes, logs);
            Path png = plot(dir.resolve("demo-return.png"), algo, c.workers, c.spread, r.curve(), target);
            o.printf(Locale.ROOT, "%ndemo --rl: %s mean return %.1f over the last %d episodes at version %d, after %s"
                    + " and %d environment steps%n", r.reached() ? "reached the target:" : "stopped (" + r.stop() + "):",
                    r.meanReturn(), Math.min(100, r.episodes()), r.version(), Human.seconds(r.seconds()), r.envSteps());
            o.printf("demo --rl: plot %s; logs in %s%n", png, dir);
            o.flush();
            return r.reached() ? 0 : 1;
        } finally {
            DemoCommand.stopAll(processes, cleanup);
            monitor.close();
        }
    }

    /** Actor {@code i} of {@code n} is spread^(i / (n − 1)) times slower than the fastest: 1× to spread×. */
    static double slowdown(int i, int n, double spread) {
        return n == 1 ? 1 : Math.pow(spread, (double) i / (n - 1));
    }

    /** The PNG of the mean return (last 100 episodes) over wall-clock seconds, with the target drawn. */
    static Path plot(Path png, String algo, int actors, double spread, List<double[]> curve, double target) {
        List<double[]> points = curve.isEmpty() ? List.of(new double[] {0, 0}) : curve;
        return Plots.lineChart(png, ENV + ", " + algo + ", " + actors + " actors (" + spread + "x speed spread)", "seconds",
                "mean return, last 100 episodes", List.of(new Plots.Series(algo, points)), target);
    }
}
