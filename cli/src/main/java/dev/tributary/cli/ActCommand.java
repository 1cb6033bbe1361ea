package dev.tributary.cli;

import dev.tributary.rl.actor.Actor;
import dev.tributary.rl.actor.ActorOptions;
import dev.tributary.rl.env.ClassicControl;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary act}: an actor that runs the learner's latest policy and streams experience to it. */
@Command(
        name = "act",
        mixinStandardHelpOptions = true,
        description = {
            "Act in an environment with the learner's latest policy and push the experience to the learner.",
            "A newer policy is picked up between two steps, without stopping. Survives the learner going away:",
            "it retries with backoff and pushes an unacknowledged item again under the same id, so it is",
            "stored once."
        })
final class ActCommand implements Callable<Integer> {

    @Option(names = "--learner", required = true, paramLabel = "HOST:PORT", description = "the learner's gRPC address")
    String learner;

    @Option(names = "--token", required = true, paramLabel = "T", description = "bearer token")
    String token;

    @Option(names = "--env", required = true, paramLabel = "ENV", description = "the environment, e.g. CartPole-v1")
    String env;

    @Option(names = "--slowdown", defaultValue = "1", paramLabel = "X",
            description = "emulate a slower device: after each step, wait (X-1) times as long as it took (default ${DEFAULT-VALUE})")
    double slowdown;

    @Option(names = "--ack-log", paramLabel = "FILE", description = "append each acknowledged item id to FILE")
    Path ackLog;

    @Option(names = "--steps", defaultValue = "0", paramLabel = "N",
            description = "stop after N environment steps (all environments together); 0 runs until stopped")
    long steps;

    @Option(names = "--envs", defaultValue = "4", paramLabel = "N", description = "environments stepped together (default ${DEFAULT-VALUE})")
    int envs;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "seed of the environments and the sampling (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--name", paramLabel = "NAME", description = "name to register under (default: the host name)")
    String name;

    @Option(names = "--max-backoff", defaultValue = "5", paramLabel = "SECONDS", description = "longest wait between retries (default ${DEFAULT-VALUE})")
    double maxBackoff;

    @Mixin
    TlsClientOptions tls = new TlsClientOptions();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!ClassicControl.ids().contains(env)) {
            throw new UserException("--env \"" + env + "\": expected one of " + String.join(", ", ClassicControl.ids()));
        }
        if (steps < 0 || envs < 1 || !(maxBackoff > 0)) {
            throw new UserException("--steps must be >= 0, --envs >= 1 and --max-backoff > 0");
        }
        if (!(slowdown >= 1) || Double.isInfinite(slowdown)) {
            throw new UserException("--slowdown " + slowdown + ": must be a finite number >= 1");
        }
        Duration cap = Duration.ofMillis(Math.max(100, (long) (maxBackoff * 1000)));
        ActorOptions options = ActorOptions.of(name != null ? name : WorkCommand.hostName(), env, seed)
                .withEnvs(envs).withSlowdown(slowdown).withMaxEnvSteps(steps).withAckLog(ackLog)
                .withBackoff(Duration.ofMillis(100), cap);
        ManagedChannel channel = NettyChannelBuilder.forTarget(learner, tls.credentials())
                .maxInboundMessageSize(8 << 20)
                .flowControlWindow(16 << 20)
                .build();
        try (Actor a = new Actor(channel, token, () -> ClassicControl.make(env), options, m -> {
            err.println(m);
            err.flush();
        })) {
            Runtime.getRuntime().addShutdownHook(new Thread(a::close, "tributary-shutdown"));
            Actor.Summary s;
            try {
                s = a.run();
            } catch (IllegalStateException e) {
                throw new UserException(e.getMessage(), e);
            }
            out.printf("%d environment steps, %d items acknowledged (%d duplicates), %d refused, %d retries, %d waits"
                    + " for a busy learner, %d policy updates, last version %d%n", s.envSteps(), s.acknowledged(),
                    s.duplicates(), s.refused(), s.retries(), s.busy(), s.policyUpdates(), s.version());
            out.flush();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        return 0;
    }
}
