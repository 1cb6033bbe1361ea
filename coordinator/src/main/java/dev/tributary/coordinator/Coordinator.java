package dev.tributary.coordinator;

import dev.tributary.coordinator.auth.BearerAuth;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.relay.PeerRelayService;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.coordinator.service.Assembly;
import dev.tributary.store.StateDirectory;
import dev.tributary.tensor.TensorMap;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A running coordinator: the gRPC service behind bearer-token authentication, over a state folder that
 * holds its durable log and checkpoints. Owns only the lifecycle; the work happens in the service.
 *
 * <p>Call order: {@link #start}, then {@link #close} once (a clean stop writes a last checkpoint). A
 * process killed at any moment loses nothing that was acknowledged: the next {@link #start} on the same
 * folder recovers it.
 */
public final class Coordinator implements AutoCloseable {
    /** Largest gRPC message either side accepts: a chunk of a few MiB plus framing. */
    public static final int MAX_MESSAGE_BYTES = 8 << 20;
    /** Largest header block a call may carry (the bearer token and gRPC's own headers fit many times). */
    public static final int MAX_METADATA_BYTES = 16 << 10;
    /** Calls one connection may have open at once. */
    public static final int MAX_CALLS_PER_CONNECTION = 128;

    private final Server server;
    private final Assembly assembly;
    private final CoordinatorMetrics metrics;
    private final ScheduledExecutorService ticker;
    private final FileChannel lockChannel;
    private final PeerRelayService relay;
    /** Where a NoLoCo coordinator's relay keeps its held outer states, inside the state folder. */
    public static final String RELAY_DIR = "relay";

    private Coordinator(Server server, Assembly assembly, CoordinatorMetrics metrics, ScheduledExecutorService ticker,
            FileChannel lockChannel, PeerRelayService relay) {
        this.relay = relay;
        this.server = server;
        this.assembly = assembly;
        this.metrics = metrics;
        this.ticker = ticker;
        this.lockChannel = lockChannel;
    }

    /**
     * Recovers the state in {@code stateDir} (created when missing) and starts serving on {@code builder}
     * (a Netty port, or an in-process name in tests).
     *
     * @param initialModel the model a fresh state starts from; also fixes the names, shapes and dtypes
     *     every update must have
     * @param log          where recovery and checkpoint warnings go
     */
    public static Coordinator start(ServerBuilder<?> builder, Path stateDir, TensorMap initialModel, CoordinatorConfig config,
            Tokens tokens, Consumer<String> log) throws IOException {
        Files.createDirectories(stateDir);
        FileChannel lockChannel = FileChannel.open(stateDir.resolve(StateDirectory.LOCK), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        try {
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw new IllegalStateException("state " + stateDir + " is in use by another coordinator");
            }
            CoordinatorMetrics metrics = new CoordinatorMetrics();
            Assembly assembly = Assembly.open(stateDir, initialModel, config, metrics, log);
            Server server;
            PeerRelayService relay = null;
            try {
                if (config.strategy().equals(Strategies.NOLOCO)) {
                    // NoLoCo's exchanges go through the relay, on the same port, tokens, TLS and limits.
                    relay = PeerRelayService.open(stateDir.resolve(RELAY_DIR), Strategies.relay(config.strategyConfig(),
                            initialModel), assembly::liveWorkerName, config.limits(), config.lease(), metrics, log);
                    builder.addService(PeerRelayService.authenticated(relay, tokens, metrics::unauthenticated));
                }
                server = builder
                        .addService(ServerInterceptors.intercept(assembly.service(), new BearerAuth(tokens, metrics::unauthenticated)))
                        .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                        .maxInboundMetadataSize(MAX_METADATA_BYTES)
                        .build()
                        .start();
            } catch (IOException | RuntimeException e) {
                assembly.close();
                throw e;
            }
            ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(
                    r -> Thread.ofPlatform().name("tributary-ticker").daemon().unstarted(r));
            long period = config.tick().toMillis();
            PeerRelayService peers = relay;
            ticker.scheduleAtFixedRate(() -> {
                long now = System.currentTimeMillis();
                assembly.tick(now);
                if (peers != null) {
                    peers.sweep(now);
                }
            }, period, period, TimeUnit.MILLISECONDS);
            return new Coordinator(server, assembly, metrics, ticker, lockChannel, relay);
        } catch (IOException | RuntimeException e) {
            lockChannel.close();
            throw e;
        }
    }

    /**
     * Tells {@code listener} of every version that becomes durable and visible, on a background thread
     * (the checkpointer's: keep it short, or hand the work on).
     */
    public void onPublish(java.util.function.Consumer<Publication> listener) {
        assembly.onPublish(listener);
    }

    /** The newest evaluation reported with {@link #evaluated}: a version and its metrics. */
    public record Evaluation(long version, java.util.Map<String, Double> metrics) {}

    private volatile Evaluation evaluation;

    /** Records an evaluation of a published version (for {@code /status} and {@code /metrics}); older ones are ignored. */
    public synchronized void evaluated(long version, java.util.Map<String, Double> values) {
        if (evaluation == null || version >= evaluation.version()) {
            evaluation = new Evaluation(version, java.util.Map.copyOf(values));
            metrics.evaluation(version, values);
        }
    }

    /** The newest evaluation, if any was reported. */
    public java.util.Optional<Evaluation> evaluation() {
        return java.util.Optional.ofNullable(evaluation);
    }

    /**
     * A Netty server on {@code address} with the limits a coordinator open to a network needs: calls per
     * connection, keepalive (a client may ping every 30 s at most; dead peers are found within 80 s),
     * idle connections closed after 10 minutes, TLS handshakes within 20 s, and bursts of stream resets
     * refused. {@link #start} adds the message and header size limits.
     */
    public static NettyServerBuilder netty(InetSocketAddress address, ServerCredentials credentials) {
        return NettyServerBuilder.forAddress(address, credentials)
                .flowControlWindow(16 << 20)
                .maxConcurrentCallsPerConnection(MAX_CALLS_PER_CONNECTION)
                .keepAliveTime(60, TimeUnit.SECONDS)
                .keepAliveTimeout(20, TimeUnit.SECONDS)
                .permitKeepAliveTime(30, TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .maxConnectionIdle(10, TimeUnit.MINUTES)
                .handshakeTimeout(20, TimeUnit.SECONDS)
                .maxRstFramesPerWindow(200, 10);
    }

    /** The port the server listens on (-1 for in-process servers). */
    public int port() {
        return server.getPort();
    }

    /** NoLoCo's relay, served beside the coordinator under strategy noloco; else null. */
    public PeerRelayService relay() {
        return relay;
    }

    public String strategy() {
        return assembly.strategy();
    }

    /** The current (published, durable) model version. */
    public long version() {
        return assembly.version();
    }

    /** Accepted updates whose acknowledgment was released, those recovered at start included. */
    public long accepted() {
        return assembly.accepted();
    }

    public long refused() {
        return metrics.refusedTotal();
    }

    public int liveWorkers() {
        return assembly.liveWorkers();
    }

    /** Updates found in the log at start. */
    public long recoveredUpdates() {
        return assembly.recoveredUpdates();
    }

    /** Bytes of a torn last record dropped at start. */
    public long droppedTornBytes() {
        return assembly.droppedTornBytes();
    }

    /** The receive memory budget in bytes. */
    public long memoryBudget() {
        return assembly.memoryBudget();
    }

    /** Receive memory committed now (buffers in use and pooled), in bytes. */
    public long memoryCommitted() {
        return assembly.memoryCommitted();
    }

    /** The part of {@link #memoryCommitted} in free buffers kept for reuse. */
    public long memoryPooled() {
        return assembly.memoryPooled();
    }

    public CoordinatorMetrics metrics() {
        return metrics;
    }

    /** Blocks until the server stops. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Stops accepting calls, lets running ones finish (30 s at most), checkpoints, and releases the state. */
    @Override
    public void close() throws IOException {
        ticker.shutdownNow();
        server.shutdown();
        try {
            if (!server.awaitTermination(30, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        try {
            assembly.close();
        } finally {
            lockChannel.close();
        }
    }
}
