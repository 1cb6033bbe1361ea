package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.protocol.Capabilities;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.client.CoordinatorClient;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve} and {@code work} under noloco: what they refuse, in one line, and with which exit status. */
class NoLoCoCommandTest {
    static final String TOKEN = "noloco-command-token";

    @TempDir
    Path dir;

    TensorMap model() {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, 2));
    }

    @Test
    void badSettingsAreOneLineErrors() throws Exception {
        Path init = dir.resolve("init.safetensors");
        Safetensors.write(init, model());
        Path yaml = Files.writeString(dir.resolve("bad.yaml"), "strategy:\n  peer_pull: 3\n");
        CliErrorsTest.fails(1, List.of("serve", "--state", dir.resolve("s").toString(), "--init", init.toString(), "--strategy",
                "noloco", "--config", yaml.toString(), "--port", "0", "--http-port", "0"), "peer_pull: must be in [0, 1], got 3");
        CliErrorsTest.fails(2, List.of("work", "--coordinator", "127.0.0.1:1", "--token", "t", "--task", "synthetic-logreg",
                "--strategy", "fedavg"), "--strategy \"fedavg\": only noloco may be given");
    }

    @Test
    void aNoLoCoWorkerAgainstAnotherStrategyAndAPushAgainstNoLoCoAreRefused() throws Exception {
        try (Coordinator fedasync = start("fedasync", dir.resolve("a"))) {
            CliErrorsTest.fails(1, List.of("work", "--coordinator", "127.0.0.1:" + fedasync.port(), "--token", TOKEN,
                    "--task", "synthetic-logreg", "--strategy", "noloco", "--updates", "1"),
                    "runs fedasync, not noloco");
        }
        try (Coordinator noloco = start("noloco", dir.resolve("n"))) {
            assertTrue(noloco.relay() != null, "serve registers PeerRelay under noloco");
            ManagedChannel ch = NettyChannelBuilder.forTarget("127.0.0.1:" + noloco.port()).usePlaintext().build();
            try {
                CoordinatorClient client = new CoordinatorClient(ch, TOKEN);
                String id = client.register("pusher", Capabilities.getDefaultInstance()).getWorkerId();
                Path delta = dir.resolve("delta.safetensors");
                Safetensors.write(delta, model());
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                        () -> client.push(new CoordinatorClient.Update(java.util.UUID.randomUUID().toString(), id, 0, 1, 1, Map.of(), delta)));
                assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
                assertTrue(e.getStatus().getDescription().contains("noloco takes no pushed updates"), e.getStatus().getDescription());
            } finally {
                ch.shutdownNow();
            }
            CliErrorsTest.fails(1, List.of("work", "--coordinator", "127.0.0.1:" + noloco.port(), "--token", "wrong-token",
                    "--task", "synthetic-logreg"), "--token: coordinator 127.0.0.1:" + noloco.port() + " refused it (UNAUTHENTICATED)");
        }
    }

    Coordinator start(String strategy, Path state) throws Exception {
        return Coordinator.start(Coordinator.netty(new InetSocketAddress("127.0.0.1", 0), InsecureServerCredentials.create()),
                state, model(), CoordinatorConfig.defaults(strategy), Tokens.of(List.of(TOKEN)), m -> { });
    }
}
