package dev.tributary.cli;

import dev.tributary.sim.Plots;
import dev.tributary.tensor.Safetensors;
import dev.tributary.train.Task;
import dev.tributary.train.data.FashionMnist;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tributary demo}: a real coordinator and several worker processes of different speeds on
 * loopback train Fashion-MNIST asynchronously; live progress, and a PNG of accuracy over time.
 */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "Train Fashion-MNIST asynchronously with a coordinator and workers of different speeds.",
            "",
            "Starts a coordinator and worker processes on this machine (loopback), shows live",
            "progress (version, accuracy, staleness, bytes) and stops at the target accuracy",
            "or the time limit. Writes a PNG of accuracy over time and the logs into --out.",
            "With --rl: a learner and actor processes of different speeds solve CartPole-v1 instead",
            "(live version, mean return, env steps/s, staleness, bytes; a PNG of return over time)."
        })
final class DemoCommand implements Callable<Integer> {

    @Option(names = "--workers", defaultValue = "4", paramLabel = "N", description = "worker processes, with --rl actor processes (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--strategy", defaultValue = "fedbuff", paramLabel = "NAME",
            description = "fedbuff, fedasync, fedavg or diloco (default ${DEFAULT-VALUE})")
    String strategy;

    @Option(names = "--task", defaultValue = "fmnist-mlp", paramLabel = "TASK", description = "fmnist-mlp or fmnist-cnn (default ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--target", defaultValue = "0.85", paramLabel = "ACC", description = "stop at this test accuracy (default ${DEFAULT-VALUE})")
    double target;

    @Option(names = "--max-seconds", defaultValue = "300", paramLabel = "S", description = "stop after this long at the latest (default ${DEFAULT-VALUE})")
    int maxSeconds;

    @Option(names = "--spread", defaultValue = "4", paramLabel = "X", description = "the slowest worker (or actor) is X times slower than the fastest (default ${DEFAULT-VALUE})")
    double spread;

    @Option(names = "--partition", defaultValue = "iid", paramLabel = "SPEC",
            description = "how the training images are split among workers: iid, dirichlet:ALPHA or shards:K (default ${DEFAULT-VALUE})")
    String partition;

    @Option(names = "--out", paramLabel = "DIR",
            description = "state, logs and plot (default .tributary/demo, with --rl .tributary/demo-rl)")
    Path out;

    @Option(names = "--rl", description = "the actor-learner demo instead: a learner and --workers actor processes of "
            + "different speeds (--spread) solve CartPole-v1; stops at --target-return or --max-seconds / --max-steps")
    boolean rl;

    @Option(names = "--algo", paramLabel = "ALGO", description = "with --rl: ppo or impala (default ppo)")
    String algo;

    @Option(names = "--target-return", paramLabel = "R",
            description = "with --rl: stop once the mean return of the last 100 episodes reaches R (default 475)")
    Double targetReturn;

    @Option(names = "--max-steps", paramLabel = "N",
            description = "with --rl: stop after N environment steps at the latest (default 1000000)")
    Long maxSteps;

    @Option(names = "--codec", paramLabel = "SPEC",
            description = "workers push their deltas with this codec (as work --codec, e.g. int4 or topk:fraction=0.01+int8) "
                    + "and with error feedback; the progress line shows the bytes saved against f32 (default: plain f32 safetensors)")
    String codec;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "seed of the initial model, with --rl of the actors (default ${DEFAULT-VALUE})")
    long seed;

    @Spec
    CommandSpec spec;

    static final String ONE_TORCH_THREAD = "-Dai.djl.pytorch.num_threads=1";

    @Override
    public Integer call() throws Exception {
        if (rl) {
            return new RlDemo(this).call();
        }
        if (codec != null) {
            try {
                dev.tributary.codec.Codec.parse(codec);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--codec: " + e.getMessage());
            }
        }
        for (String only : List.of("--algo", "--target-return", "--max-steps")) {
            if (spec.commandLine().getParseResult().hasMatchedOption(only)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(), only + " needs --rl");
            }
        }
        if (out == null) {
            out = Path.of(".tributary/demo");
        }
        if (workers < 1 || workers > 16) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--workers " + workers + ": must be between 1 and 16");
        }
        if (!(target > 0 && target <= 1)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--target " + target + ": must be in (0, 1]");
        }
        if (!(spread >= 1)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--spread " + spread + ": must be at least 1");
        }
        if (maxSeconds < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--max-seconds " + maxSeconds + ": must be at least 1");
        }
        if (!dev.tributary.coordinator.strategy.Strategies.NAMES.contains(strategy)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--strategy \"" + strategy + "\": expected one of "
                    + String.join(", ", dev.tributary.coordinator.strategy.Strategies.NAMES));
        }
        if (!task.startsWith("fmnist-")) {
            throw new UserException("--task " + task + ": the demo trains Fashion-MNIST (fmnist-mlp or fmnist-cnn)");
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw new UserException("--out " + out + ": not a folder");
        }
        PrintWriter o = spec.commandLine().getOut();
        if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", "1");
        }
        DemoData.ensure(FashionMnist.DEFAULT_DIR, o);
        Task t = TaskOptions.resolve(task, null, partition);
        o.println("demo: preparing the initial model and the state folder…");
        o.flush();

        Path dir = out.toAbsolutePath();
        Path state = dir.resolve("state");
        deleteTree(state);
        Files.createDirectories(dir);
        Path init = dir.resolve("init.safetensors");
        Safetensors.write(init, t.initialModel(seed));
        String token = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
        Path tokens = dir.resolve("tokens");
        Files.writeString(tokens, token + "\n");

        int grpcPort = freePort();
        int httpPort = freePort();
        List<Process> processes = new ArrayList<>();
        Thread cleanup = new Thread(() -> processes.forEach(Process::destroy));
        Runtime.getRuntime().addShutdownHook(cleanup);
        DemoMonitor monitor = new DemoMonitor(httpPort, "127.0.0.1:" + grpcPort, token, t, dir.resolve("monitor"));
        try {
            if (codec != null) {
                o.printf("demo: workers push with codec %s and error feedback%n", codec);
            }
            o.printf("demo: coordinator (%s) on 127.0.0.1:%d, status on http://127.0.0.1:%d/status%n", strategy, grpcPort, httpPort);
            List<Path> logs = new ArrayList<>();
            logs.add(dir.resolve("coordinator.log"));
            processes.add(start(dir.resolve("coordinator.log"), "serve", "--state", state.toString(), "--init", init.toString(),
                    "--strategy", strategy, "--host", "127.0.0.1", "--port", Integer.toString(grpcPort),
                    "--http-port", Integer.toString(httpPort), "--tokens", tokens.toString()));
            o.println("demo: waiting for the coordinator to answer (a JVM start, recovery of an empty state)…");
            o.flush();
            monitor.awaitUp(processes.getFirst(), logs.getFirst(), 60);
            for (int i = 0; i < workers; i++) {
                double slowdown = workers == 1 ? 1 : Math.pow(spread, (double) i / (workers - 1));
                o.printf(Locale.ROOT, "demo: worker %d, %.1fx slower than the fastest%n", i, slowdown);
                logs.add(dir.resolve("worker-" + i + ".log"));
                List<String> work = new ArrayList<>(List.of("work", "--coordinator", "127.0.0.1:" + grpcPort,
                        "--token", token, "--task", task, "--worker", Integer.toString(i), "--workers", Integer.toString(workers),
                        "--seed", Long.toString(seed + i), "--name", "worker-" + i, "--partition", partition,
                        "--slowdown", String.format(Locale.ROOT, "%.3f", slowdown)));
                if (codec != null) {
                    work.addAll(List.of("--codec", codec, "--error-feedback"));
                }
                processes.add(start(dir.resolve("worker-" + i + ".log"), List.of(ONE_TORCH_THREAD), work.toArray(String[]::new)));
            }
            o.println("demo: workers are loading PyTorch and their share of the images; the first updates follow in a few seconds…");
            o.flush();
            DemoMonitor.Outcome result = monitor.run(o, target, maxSeconds, processes, logs);
            Path png = dir.resolve("demo-accuracy.png");
            Plots.lineChart(png, "Fashion-MNIST, " + strategy + ", " + workers + " workers (" + spread + "x speed spread)",
                    "seconds", "test accuracy", List.of(new Plots.Series(strategy, result.curve())), target);
            o.printf(Locale.ROOT, "%ndemo: %s accuracy %.4f at version %d after %s (%d updates accepted)%n",
                    result.reached() ? "reached" : "did not reach the target;", result.accuracy(), result.version(),
                    Human.seconds(result.seconds()), result.accepted());
            o.printf("demo: plot %s; logs in %s%n", png, dir);
            o.flush();
            return result.reached() ? 0 : 1;
        } finally {
            DemoCommand.stopAll(processes, cleanup);
            monitor.close();
        }
    }

    /** Stops the demo's child processes, the last started first, waits for them, and drops the shutdown hook. */
    static void stopAll(List<Process> processes, Thread cleanup) throws InterruptedException {
        for (Process p : processes.reversed()) {
            p.destroy();
        }
        for (Process p : processes) {
            p.waitFor();
        }
        Runtime.getRuntime().removeShutdownHook(cleanup);
    }

    /** Starts {@code tributary <args>} in a child JVM with this JVM's flags and class path. */
    static Process start(Path log, String... args) throws IOException {
        return start(log, List.of(), args);
    }

    /**
     * As {@link #start(Path, String...)} with extra JVM flags. Every process here trains or evaluates on one
     * thread: several PyTorch thread pools spinning on two cores slow everything down many times over.
     */
    static Process start(Path log, List<String> jvmFlags, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent")) {
                cmd.add(a);
            }
        }
        cmd.addAll(jvmFlags);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        return pb.start();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }
}
