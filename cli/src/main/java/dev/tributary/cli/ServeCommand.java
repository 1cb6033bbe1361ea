package dev.tributary.cli;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.http.StatusServer;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code tributary serve}: the coordinator, until stopped. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Run a coordinator: workers register, pull the model and push updates whenever they are ready.",
            "Every acknowledged update is durable in --state; after a crash, start again with the same --state.",
            "Every call needs a bearer token from --tokens (one per line); without --tokens a token is made",
            "once and kept in DIR/tokens. HTTP on --http-port: GET /status (JSON) and GET /metrics (Prometheus)."
        })
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--state", required = true, paramLabel = "DIR", description = "folder of the update log and checkpoints")
    Path state;

    @Option(names = "--init", required = true, paramLabel = "FILE", description = "initial model (.safetensors), e.g. from 'tributary init'")
    Path init;

    @Option(names = "--strategy", required = true, paramLabel = "NAME", description = "fedavg, fedasync, fedbuff, diloco or "
            + "noloco (no merge: workers exchange outer states with a peer through the PeerRelay service on this port)")
    String strategy;

    @Option(names = "--host", defaultValue = "127.0.0.1", paramLabel = "ADDR",
            description = "address to listen on (default ${DEFAULT-VALUE}, this machine only; 0.0.0.0 for every interface)")
    String host;

    @Option(names = "--port", defaultValue = "7070", paramLabel = "PORT", description = "gRPC port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--http-port", defaultValue = "7071", paramLabel = "PORT", description = "HTTP status port; 0 for none (default ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--tokens", paramLabel = "FILE", description = "accepted bearer tokens, one per line")
    Path tokens;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "strategy and coordinator settings")
    Path config;

    @Option(names = "--task", paramLabel = "TASK", description = "evaluate published versions on this task's test set "
            + "(e.g. fmnist-mlp); results in the log, /status and /metrics")
    String task;

    @Option(names = "--eval-every", defaultValue = "1", paramLabel = "K",
            description = "with --task, evaluate every K-th version (default ${DEFAULT-VALUE})")
    int evalEvery;

    @Option(names = "--quiet", description = "no line per published version")
    boolean quiet;

    @Mixin
    TlsServerOptions tls = new TlsServerOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Strategies.NAMES.contains(strategy) && !strategy.equals(Strategies.NOLOCO)) {
            throw new ParameterException(spec.commandLine(), "--strategy \"" + strategy + "\": expected one of "
                    + String.join(", ", Strategies.NAMES) + ", " + Strategies.NOLOCO);
        }
        Args.port(spec, "--port", port, "picks a free port");
        Args.port(spec, "--http-port", httpPort, "serves no HTTP");
        Args.atLeast(spec, "--eval-every", evalEvery, 1);
        Args.folder("--state", state);
        Args.safetensorsFile("--init", init);
        if (tokens != null) {
            Args.existingFile("--tokens", tokens);
        }
        if (config != null) {
            Args.existingFile("--config", config);
        }
        tls.check();
        dev.tributary.train.Task evalTask = task == null ? null : TaskOptions.resolve(task, null, null);
        CoordinatorConfig cfg = config == null ? CoordinatorConfig.defaults(strategy) : CoordinatorConfig.fromYaml(strategy, config);
        TensorMap model = Safetensors.readAll(init);
        Files.createDirectories(state);
        Tokens accepted = ServerTokens.tokens(tokens, state, out);
        InetSocketAddress address = new InetSocketAddress(host, port);
        if (address.isUnresolved()) {
            throw new UserException("--host \"" + host + "\": not an address of this machine");
        }
        if (tls.cert == null && !address.getAddress().isLoopbackAddress()) {
            err.println("warning: listening on " + host + " without TLS: tokens and weights cross the network in the clear"
                    + " (give --tls-cert and --tls-key)");
            err.flush();
        }
        NettyServerBuilder builder = Coordinator.netty(address, tls.credentials());
        Coordinator c;
        try {
            c = Coordinator.start(builder, state, model, cfg, accepted, m -> {
                err.println("warning: " + m);
                err.flush();
            });
        } catch (IOException e) {
            throw Args.portInUse(e) ? Args.inUse("--port", host, port, e) : e;
        }
        StatusServer http;
        try {
            http = httpPort == 0 ? null : StatusServer.start(new InetSocketAddress(host, httpPort), c);
        } catch (IOException e) {
            c.close();
            throw Args.portInUse(e) ? Args.inUse("--http-port", host, httpPort, e) : e;
        }
        PublishReporter reporter = new PublishReporter(c, evalTask, evalEvery, quiet, out);
        c.onPublish(reporter::published);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            reporter.close();
            if (http != null) {
                http.close();
            }
            try {
                c.close();
            } catch (IOException e) {
                err.println("warning: stopping: " + e.getMessage());
                err.flush();
            }
        }, "tributary-shutdown"));
        out.printf("serving %s on %s:%d%s%s, state %s: version %d, %d updates recovered%s%n", c.strategy(), host, c.port(),
                http == null ? "" : ", http :" + http.port(), tls.describe(),
                state, c.version(), c.recoveredUpdates(), c.relay() == null ? ""
                        : "; relay: " + c.relay().held() + " outer states held, " + c.relay().exchanges() + " exchanges so far");
        out.flush();
        c.awaitTermination();
        return 0;
    }
}
