package dev.tributary.cli;

import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.http.StatusServer;
import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.learner.Learner;
import dev.tributary.rl.learner.LearnerConfig;
import dev.tributary.rl.learner.DurableBuffer;
import dev.tributary.store.StateDirectory;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary learn}: the actor-learner flow's learner, until stopped. */
@Command(
        name = "learn",
        mixinStandardHelpOptions = true,
        description = {
            "Run a learner: actors register, pull the policy and push experience; the learner trains on it",
            "(PPO with truncated importance sampling, or IMPALA's V-trace) and publishes a new policy version",
            "after each training step. Its policy, optimizer state and version are checkpointed in --state; start",
            "again with the same --state to resume. Every call needs a bearer token from --tokens (one per line);",
            "without --tokens a token is made once and kept in DIR/tokens. HTTP on --http-port: GET /status",
            "(JSON) and GET /metrics (Prometheus)."
        })
final class LearnCommand implements Callable<Integer> {

    @Option(names = "--env", required = true, paramLabel = "ENV", description = "the environment, e.g. CartPole-v1")
    String env;

    @Option(names = "--algo", required = true, paramLabel = "ALGO", description = "ppo or impala")
    String algo;

    @Option(names = "--state", required = true, paramLabel = "DIR", description = "folder of the learner's checkpoints")
    Path state;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDR", description = "address to listen on (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "7080", paramLabel = "PORT", description = "gRPC port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--http-port", defaultValue = "7081", paramLabel = "PORT", description = "HTTP status port; 0 for none (default ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--tokens", paramLabel = "FILE", description = "accepted bearer tokens, one per line")
    Path tokens;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "learner settings (see LearnerConfig)")
    Path config;

    @Mixin
    TlsServerOptions tls = new TlsServerOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!LearnerConfig.ALGOS.contains(algo)) {
            throw new UserException("--algo \"" + algo + "\": expected one of " + String.join(", ", LearnerConfig.ALGOS));
        }
        if (!ClassicControl.ids().contains(env)) {
            throw new UserException("--env \"" + env + "\": expected one of " + String.join(", ", ClassicControl.ids()));
        }
        Args.port(spec, "--port", port, "picks a free port");
        Args.port(spec, "--http-port", httpPort, "serves no HTTP");
        Args.folder("--state", state);
        if (tokens != null) {
            Args.existingFile("--tokens", tokens);
        }
        if (config != null) {
            Args.existingFile("--config", config);
        }
        tls.check();
        LearnerConfig cfg = config == null ? LearnerConfig.defaults(algo) : LearnerConfig.fromYaml(algo, config);
        Files.createDirectories(state);
        Tokens accepted = ServerTokens.tokens(tokens, state, out);
        FileChannel lockChannel = FileChannel.open(state.resolve(StateDirectory.LOCK), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        FileLock lock = lockChannel.tryLock();
        if (lock == null) {
            lockChannel.close();
            throw new UserException("state " + state + " is in use by another process");
        }
        Environment e = ClassicControl.make(env);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(host, port),
                tls.credentials()).flowControlWindow(16 << 20);
        Learner learner;
        DurableBuffer buffer = DurableBuffer.open(state, cfg.bufferItems(), m -> {
            err.println("warning: " + m);
            err.flush();
        });
        try {
            learner = Learner.start(builder, env, e.observationSpace(), e.actionSpace(), cfg, buffer, accepted, m -> {
                err.println("warning: " + m);
                err.flush();
            });
        } catch (java.io.IOException | RuntimeException ex) {
            buffer.close();
            lockChannel.close();
            throw Args.portInUse(ex) ? Args.inUse("--port", host, port, ex) : ex;
        }
        StatusServer http;
        try {
            http = httpPort == 0 ? null
                    : StatusServer.start(new InetSocketAddress(host, httpPort), learner::statusJson, learner.metrics()::scrape);
        } catch (java.io.IOException ex) {
            learner.close();
            lockChannel.close();
            throw Args.portInUse(ex) ? Args.inUse("--http-port", host, httpPort, ex) : ex;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (http != null) {
                http.close();
            }
            learner.close();
            try {
                lockChannel.close();
            } catch (java.io.IOException ex) {
                err.println("warning: releasing " + state + ": " + ex.getMessage());
            }
        }, "tributary-shutdown"));
        out.printf("learning %s with %s on %s:%d%s%s, state %s: version %d, %d environment steps so far%n", env, algo, host,
                learner.port(), http == null ? "" : ", http :" + http.port(),
                tls.describe(), state, learner.version(),
                learner.envSteps());
        out.println("experience is acknowledged once it is durable in " + state.resolve(DurableBuffer.DIR)
                + "; a restart over the same --state resumes policy, optimizer, version and buffer");
        out.flush();
        learner.awaitTermination();
        return 0;
    }
}
