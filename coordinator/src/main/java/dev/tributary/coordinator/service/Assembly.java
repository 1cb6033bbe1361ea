package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.StateDirectory;
import dev.tributary.store.UpdateLog;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.tensor.TensorMap;
import io.grpc.BindableService;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Wires the service from a state folder: recovers the strategy, opens the log after its valid end, and
 * builds the gRPC service over them. The public entry point is {@code dev.tributary.coordinator.Coordinator}.
 */
public final class Assembly implements AutoCloseable {
    /** A pooled receive buffer unused this long is freed. */
    static final long POOL_IDLE_MILLIS = 10_000;

    private final Sequencer sequencer;
    private final WorkerRegistry registry;
    private final CoordinatorService service;
    private final Recovery.Recovered recovered;

    private Assembly(Sequencer sequencer, WorkerRegistry registry, CoordinatorService service, Recovery.Recovered recovered) {
        this.sequencer = sequencer;
        this.registry = registry;
        this.service = service;
        this.recovered = recovered;
    }

    /** Recovers from {@code stateDir} (created when missing) and assembles the service. */
    public static Assembly open(Path stateDir, TensorMap initialModel, CoordinatorConfig config, CoordinatorMetrics metrics,
            Consumer<String> warn) throws IOException {
        Files.createDirectories(stateDir);
        // Fails fast on a bad configuration, before the state is read.
        Strategies.create(config.strategy(), config.strategyConfig(), initialModel);
        UpdateValidator validator = new UpdateValidator(initialModel.infos(), config.maxUpdateBytes(), config.maxDeltaNorm(),
                config.normPolicy());
        MemoryPlan plan = MemoryPlan.of(config, validator.maxBytes());
        Checkpoints checkpoints = new Checkpoints(stateDir, config.keepCheckpoints());
        Path logFile = StateDirectory.log(stateDir);
        Recovery.Recovered r = Recovery.recover(config.strategy(), config.strategyConfig(), initialModel, checkpoints,
                logFile, warn);
        UpdateLog log = UpdateLog.open(logFile, r.scan().validEnd());
        Sequencer sequencer = new Sequencer(r, log, checkpoints, config.checkpointEvery(), metrics, warn, config.wire());
        if (config.compactLogBytes() > 0) {
            sequencer.afterCheckpoint(new LogCompactor(stateDir, checkpoints, config.compactLogBytes(), metrics, warn,
                    sequencer::closing));
        }
        if (r.configToLog() != null) {
            try {
                sequencer.logConfig(r.configToLog());
            } catch (RuntimeException e) {
                sequencer.close();
                throw new IOException("could not log the strategy configuration: " + e.getMessage(), e);
            }
        }
        WorkerRegistry registry = new WorkerRegistry(config.lease(), System::currentTimeMillis, config.limits().maxWorkers());
        ReceiveBuffers buffers = new ReceiveBuffers(plan.budget(), plan.tokenShare(), plan.workerShare(), plan.budget(),
                POOL_IDLE_MILLIS, () -> System.nanoTime() / 1_000_000);
        java.util.List<java.util.List<dev.tributary.tensor.TensorInfo>> fragments = sequencer.innerLoop() == null
                ? java.util.List.of() : sequencer.innerLoop().layouts(initialModel.infos());
        UpdateValidator deltas = new UpdateValidator(initialModel.infos(), config.maxUpdateBytes(), config.maxDeltaNorm(),
                config.normPolicy(), fragments);
        PushDecoder decoder = new PushDecoder(initialModel.infos(), fragments, config.wire(), buffers, validator.maxBytes());
        Pushes pushes = new Pushes(sequencer, deltas, decoder, metrics, buffers, config.limits(), warn);
        CoordinatorService service = new CoordinatorService(sequencer, registry, metrics, pushes);
        metrics.recovered(r.accepted());
        metrics.gauges(() -> registry.live().size(), sequencer::version);
        metrics.memoryGauges(buffers::budget, buffers::committed, buffers::pooled, pushes::receiving);
        return new Assembly(sequencer, registry, service, r);
    }

    Sequencer sequencer() {
        return sequencer;
    }

    public BindableService service() {
        return service;
    }

    public String strategy() {
        return sequencer.strategyName();
    }

    public long version() {
        return sequencer.version();
    }

    /** Accepted, durable updates, those recovered from the log included. */
    public long accepted() {
        return sequencer.accepted();
    }

    /** The name live worker {@code id} registered under, or null when it is not registered (or its lease ran out). */
    public String liveWorkerName(String id) {
        return registry.liveName(id);
    }

    public int liveWorkers() {
        return registry.live().size();
    }

    /** Tells {@code listener} of every version that becomes durable and visible (on a background thread). */
    public void onPublish(java.util.function.Consumer<dev.tributary.coordinator.Publication> listener) {
        sequencer.onPublish(listener);
    }

    /** SHA-256 (hex) of the current, durable model's safetensors image. */
    public String modelSha256() {
        return sequencer.image().join().sha256Hex();
    }

    /** Offers a clock tick to the strategy. */
    public void tick(long nowMillis) {
        sequencer.tick(nowMillis);
    }

    /** Updates found in the log at start. */
    public long recoveredUpdates() {
        return recovered.accepted();
    }

    /** Bytes of torn tail dropped at start. */
    public long droppedTornBytes() {
        return recovered.scan().tornBytes();
    }

    /** The receive memory budget in bytes. */
    public long memoryBudget() {
        return service.pushes().buffers().budget();
    }

    /** Receive memory committed now, in bytes. */
    public long memoryCommitted() {
        return service.pushes().buffers().committed();
    }

    /** Receive memory in free buffers kept for reuse, in bytes. */
    public long memoryPooled() {
        return service.pushes().buffers().pooled();
    }

    @Override
    public void close() throws IOException {
        try {
            sequencer.close();
        } finally {
            service.close();
        }
    }
}
