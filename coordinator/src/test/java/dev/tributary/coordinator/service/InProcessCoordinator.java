package dev.tributary.coordinator.service;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.tensor.TensorMap;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/** A coordinator on an in-process server with a direct-executor channel to it, for the service tests. */
record InProcessCoordinator(Coordinator coordinator, ManagedChannel channel) implements AutoCloseable {

    static InProcessCoordinator start(Path state, TensorMap model, CoordinatorConfig config, List<String> tokens,
            Consumer<String> log) throws IOException {
        String name = InProcessServerBuilder.generateName();
        Coordinator c = Coordinator.start(InProcessServerBuilder.forName(name).directExecutor(), state, model, config,
                Tokens.of(tokens), log);
        return new InProcessCoordinator(c, InProcessChannelBuilder.forName(name).directExecutor().build());
    }

    TestClient client(String token) {
        return new TestClient(channel, token);
    }

    @Override
    public void close() throws IOException {
        channel.shutdownNow();
        coordinator.close();
    }
}
