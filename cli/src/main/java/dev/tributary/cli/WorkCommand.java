package dev.tributary.cli;

import dev.tributary.codec.Codec;
import dev.tributary.train.Task;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.client.Progress;
import dev.tributary.worker.client.UnreachableException;
import dev.tributary.worker.client.Worker;
import dev.tributary.worker.client.WireOptions;
import dev.tributary.worker.client.WorkerOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code tributary work}: a worker that trains a task and pushes its updates to a coordinator. */
@Command(
        name = "work",
        mixinStandardHelpOptions = true,
        description = {
            "Train a task locally and push updates to a coordinator whenever one is ready.",
            "Survives the coordinator going away: it retries with backoff, and sends an unacknowledged",
            "update again under the same id, so it is never applied twice."
        })
final class WorkCommand implements Callable<Integer> {

    @Option(names = "--coordinator", required = true, paramLabel = "HOST:PORT", description = "the coordinator's gRPC address")
    String coordinator;

    @Option(names = "--token", required = true, paramLabel = "T", description = "bearer token")
    String token;

    @Option(names = "--task", required = true, paramLabel = "TASK", description = "the task, e.g. synthetic-logreg")
    String task;

    @Option(names = "--updates", defaultValue = "0", paramLabel = "N", description = "stop after N acknowledged updates; 0 runs until stopped")
    int updates;

    @Option(names = "--ack-log", paramLabel = "FILE", description = "append each acknowledged update id to FILE")
    Path ackLog;

    @Option(names = "--worker", defaultValue = "0", paramLabel = "I", description = "this worker's share of the task's data (default ${DEFAULT-VALUE})")
    int worker;

    @Option(names = "--workers", defaultValue = "1", paramLabel = "N", description = "number of shares the data is cut into (default ${DEFAULT-VALUE})")
    int workers;

    @Option(names = "--steps", defaultValue = "0", paramLabel = "H", description = "local steps per update; 0 for the task's default")
    int steps;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "seed of sampling and shuffling (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--name", paramLabel = "NAME", description = "name to register under (default: host and worker index)")
    String name;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "where models and pending deltas are kept (default: a temporary folder)")
    Path workDir;

    @Option(names = "--max-backoff", defaultValue = "5", paramLabel = "SECONDS", description = "longest wait between retries (default ${DEFAULT-VALUE})")
    double maxBackoff;

    @Option(names = "--data", paramLabel = "DIR",
            description = "folder of the task's data set (Fashion-MNIST: default /usr/share/datasets/fashion-mnist)")
    Path data;

    @Option(names = "--partition", paramLabel = "SPEC",
            description = "how the task's data is split among workers: iid, dirichlet:ALPHA or shards:K (default: the task's)")
    String partition;

    @Option(names = "--slowdown", defaultValue = "1", paramLabel = "X",
            description = "emulate a slower device: after each local training, wait (X-1) times as long as it took (default ${DEFAULT-VALUE})")
    double slowdown;

    @Option(names = "--codec", paramLabel = "NAME[:k=v,...]",
            description = "encode pushed deltas: f16, bf16, int8[:group=G], int4[:group=G], fp4[:group=G], fp8, "
                    + "topk[:fraction=F][+VALUE_CODEC], lossless[:level=L], any lossy one +lossless (e.g. int4+lossless); "
                    + "default: plain safetensors")
    String codec;

    @Option(names = "--pull-codec", paramLabel = "NAME[:k=v,...]",
            description = "pull the model coded by this lossy codec (e.g. bf16, int8): train from the decoded weights and push "
                    + "the delta against them; a coordinator that does not accept the codec sends f32; default: f32 pulls")
    String pullCodec;

    @Option(names = "--error-feedback", arity = "0..1", fallbackValue = "ef", paramLabel = "ef|ef21",
            description = "with a lossy --codec: carry what the codec dropped into the next update (ef, the default when no "
                    + "value is given), or send the change of an estimate the coordinator keeps too (ef21); reset with a log "
                    + "line when the base goes back or jumps more than --ef-max-jump pushes ahead, or an update is refused")
    String errorFeedback;

    @Option(names = "--ef-max-jump", defaultValue = "4", paramLabel = "J",
            description = "pushes the base may move ahead with the residual still carried (default ${DEFAULT-VALUE})")
    int efMaxJump;

    @Option(names = "--no-pull-delta", description = "always pull whole models, never only what changed since the version held")
    boolean noPullDelta;

    @Option(names = "--strategy", paramLabel = "noloco",
            description = "noloco: run NoLoCo's loop (H inner steps, exchange of outer states with a peer through the "
                    + "coordinator's PeerRelay, outer step; --updates counts exchanges, --ack-log gets one line per exchange). "
                    + "Default: asked from the coordinator, whose PeerRelay answers under noloco; any other strategy pushes updates")
    String strategyFlag;

    @Mixin
    TlsClientOptions tls = new TlsClientOptions();

    @Spec
    CommandSpec spec;

    @Option(names = "--give-up-after", paramLabel = "DURATION",
            description = "exit with an error once the coordinator has not answered for this long, e.g. 30s or 5m "
                    + "(default: retry forever)")
    String giveUpAfter;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Args.hostPort(spec, "--coordinator", coordinator);
        Args.atLeast(spec, "--updates", updates, 0);
        Args.atLeast(spec, "--steps", steps, 0);
        if (!(maxBackoff > 0) || Double.isInfinite(maxBackoff)) {
            throw new ParameterException(spec.commandLine(), "--max-backoff " + maxBackoff + ": must be a finite number > 0");
        }
        if (!(slowdown >= 1) || Double.isInfinite(slowdown)) {
            throw new ParameterException(spec.commandLine(), "--slowdown " + slowdown + ": must be a finite number >= 1");
        }
        Args.atLeast(spec, "--workers", workers, 1);
        if (worker < 0 || worker >= workers) {
            throw new ParameterException(spec.commandLine(), "--worker " + worker + " --workers " + workers
                    + ": needs 0 <= worker < workers");
        }
        Duration giveUp = giveUpAfter == null ? null : Args.duration(spec, "--give-up-after", giveUpAfter);
        if (strategyFlag != null && !strategyFlag.equals("noloco")) {
            throw new ParameterException(spec.commandLine(), "--strategy \"" + strategyFlag
                    + "\": only noloco may be given; the push strategies are the coordinator's to choose");
        }
        if (ackLog != null) {
            Args.fileToWrite("--ack-log", ackLog);
        }
        if (workDir != null) {
            Args.folder("--work-dir", workDir);
        }
        if (data != null) {
            Args.existingFolder("--data", data);
        }
        tls.check();
        Task t = TaskOptions.resolve(task, data, partition);
        WireOptions wire = wireOptions();
        String who = name != null ? name : hostName() + "-" + worker;
        Path dir = workDir != null ? workDir : Files.createTempDirectory("tributary-worker-");
        TrainPlan plan = steps > 0 ? TrainPlan.steps(steps, seed) : t.defaultPlan(seed);
        WorkerOptions defaults = WorkerOptions.of(who, plan, updates, ackLog, dir);
        Duration cap = Duration.ofMillis(Math.max(100, (long) (maxBackoff * 1000)));
        WorkerOptions options = new WorkerOptions(who, defaults.capabilities(), plan, updates, ackLog, dir,
                Duration.ofMillis(Math.min(100, cap.toMillis())), cap, seed ^ worker, wire);
        ManagedChannel channel = NettyChannelBuilder.forTarget(coordinator, tls.credentials())
                .maxInboundMessageSize(8 << 20)
                .flowControlWindow(16 << 20)
                .build();
        boolean noloco;
        try {
            noloco = strategyFlag != null || NoLoCoWork.served(channel, token, options, giveUp, err);
        } catch (UnreachableException e) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            throw new UserException(e.getMessage() + " after --give-up-after " + giveUpAfter, e);
        } catch (RuntimeException e) {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            throw e;
        }
        if (noloco) {
            if (codec != null || errorFeedback != null) {
                err.println("warning: --codec and --error-feedback apply to pushed updates; noloco exchanges f32 outer states");
                err.flush();
            }
            try {
                return NoLoCoWork.run(channel, token, t, worker, workers, seed, slowdown, options, giveUp, coordinator, out, err);
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
                if (workDir == null) {
                    deleteTree(dir);
                }
            }
        }
        // Ctrl-C (or a plain kill) ends the run: the summary is printed once, by whichever comes first.
        AtomicBoolean done = new AtomicBoolean();
        try (LocalTrainer trainer = SlowedTrainer.wrap(t.trainer(worker, workers, seed), slowdown);
                Worker w = new Worker(channel, token, trainer, options, m -> {
                    if (!done.get()) {
                        err.println(m);
                        err.flush();
                    }
                })) {
            w.giveUpAfter(giveUp);
            w.onPushed(p -> {
                if (!done.get()) {
                    out.println(Progress.line(p));
                    out.flush();
                }
            });
            Thread hook = new Thread(() -> {
                if (done.compareAndSet(false, true)) {
                    out.println("stopped; " + w.progress().summary());
                    out.flush();
                }
            }, "tributary-work-summary");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                w.run();
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException stopping) {
                    // the hook runs, or ran, and prints the summary
                }
            }
            if (done.compareAndSet(false, true)) {
                out.println(w.progress().summary());
                out.flush();
            }
        } catch (UnreachableException e) {
            throw new UserException(e.getMessage() + " after --give-up-after " + giveUpAfter, e);
        } catch (io.grpc.StatusRuntimeException e) {
            io.grpc.Status.Code code = e.getStatus().getCode();
            if (code == io.grpc.Status.Code.UNAUTHENTICATED || code == io.grpc.Status.Code.PERMISSION_DENIED) {
                throw new UserException("--token: coordinator " + coordinator + " refused it (" + code
                        + (e.getStatus().getDescription() == null ? "" : ": " + e.getStatus().getDescription()) + ")", e);
            }
            throw e;
        } finally {
            done.set(true);
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            if (workDir == null) {
                deleteTree(dir);
            }
        }
        return 0;
    }

    /** The wire options of the flags; a bad codec or combination is a usage error naming it. */
    private WireOptions wireOptions() {
        Codec c = null;
        if (codec != null) {
            try {
                c = Codec.parse(codec);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--codec: " + e.getMessage());
            }
        }
        if (errorFeedback != null && !errorFeedback.equals("ef") && !errorFeedback.equals("ef21")) {
            throw new ParameterException(spec.commandLine(), "--error-feedback " + errorFeedback + ": must be ef or ef21");
        }
        if (errorFeedback != null && (c == null || c.isLossless())) {
            throw new ParameterException(spec.commandLine(), "--error-feedback needs a lossy --codec, not "
                    + (c == null ? "plain safetensors" : c.spec()));
        }
        if (efMaxJump < 1) {
            throw new ParameterException(spec.commandLine(), "--ef-max-jump " + efMaxJump + ": must be at least 1");
        }
        Codec pull = null;
        if (pullCodec != null) {
            try {
                pull = Codec.parse(pullCodec);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--pull-codec: " + e.getMessage());
            }
            if (pull.spec().startsWith("topk")) {
                throw new ParameterException(spec.commandLine(), "--pull-codec " + pull.spec()
                        + ": top-k would zero most weights; use a dense codec (bf16, f16, int8, fp8, int4, fp4)");
            }
        }
        WireOptions wire = new WireOptions(c, errorFeedback != null, efMaxJump, !noPullDelta, pull);
        return "ef21".equals(errorFeedback) ? wire.withEf21() : wire;
    }

    static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "worker";
        }
    }

    static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
