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

    @Option(names = "--strategy", required = true, paramLabel = "NAME", description = "fedavg, fedasync, fedbuff or diloco")
    String strategy;

    @Option(names = "--host", defaultValue = "0.0.0.0", paramLabel = "ADDR", description = "address to listen on (default ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "7070", paramLabel = "PORT", description = "gRPC port (default ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--http-port", defaultValue = "7071", paramLabel = "PORT", description = "HTTP status port; 0 for none (default ${DEFAULT-VALUE})")
    int httpPort;

    @Option(names = "--tokens", paramLabel = "FILE", description = "accepted bearer tokens, one per line")
    Path tokens;

    @Option(names = "--config", paramLabel = "FILE.yaml", description = "strategy and coordinator settings")
    Path config;

    @Mixin
    TlsServerOptions tls = new TlsServerOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Strategies.NAMES.contains(strategy)) {
            throw new UserException("--strategy \"" + strategy + "\": expected one of " + String.join(", ", Strategies.NAMES));
        }
        if (!Files.isRegularFile(init)) {
            throw new UserException("no such file: " + init);
        }
        CoordinatorConfig cfg = config == null ? CoordinatorConfig.defaults(strategy) : CoordinatorConfig.fromYaml(strategy, config);
        TensorMap model = Safetensors.readAll(init);
        Files.createDirectories(state);
        Tokens accepted = ServerTokens.tokens(tokens, state, out);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress(host, port), tls.credentials())
                .flowControlWindow(16 << 20);
        Coordinator c = Coordinator.start(builder, state, model, cfg, accepted, m -> {
            err.println("warning: " + m);
            err.flush();
        });
        StatusServer http = httpPort == 0 ? null : StatusServer.start(new InetSocketAddress(host, httpPort), c);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
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
        out.printf("serving %s on %s:%d%s%s, state %s: version %d, %d updates recovered%n", c.strategy(), host, c.port(),
                http == null ? "" : ", http :" + http.port(), tls.describe(),
                state, c.version(), c.recoveredUpdates());
        out.flush();
        c.awaitTermination();
        return 0;
    }
}
