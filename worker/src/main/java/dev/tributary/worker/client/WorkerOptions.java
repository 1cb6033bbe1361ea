package dev.tributary.worker.client;

import dev.tributary.protocol.Capabilities;
import dev.tributary.worker.TrainPlan;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How a {@link Worker} runs.
 *
 * @param name           the name it registers under
 * @param capabilities   what it reports about itself
 * @param plan           local training per update; its seed is advanced by one each round
 * @param updates        acknowledged updates after which {@link Worker#run} returns; 0 for no end
 * @param ackLog         file that receives each acknowledged update id, or null
 * @param workDir        where pulled models and deltas waiting to be pushed are kept
 * @param initialBackoff first wait after the coordinator became unreachable
 * @param maxBackoff     longest wait between attempts
 * @param seed           seed of the backoff jitter
 * @param wire           push codec, error feedback, version-delta pulls
 */
public record WorkerOptions(String name, Capabilities capabilities, TrainPlan plan, int updates, Path ackLog, Path workDir,
        Duration initialBackoff, Duration maxBackoff, long seed, WireOptions wire) {
    public WorkerOptions {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(capabilities, "capabilities");
        Objects.requireNonNull(plan, "plan");
        Objects.requireNonNull(workDir, "workDir");
        Objects.requireNonNull(wire, "wire");
        if (updates < 0) {
            throw new IllegalArgumentException("updates < 0: " + updates);
        }
    }

    /** Options with the default wire options. */
    public WorkerOptions(String name, Capabilities capabilities, TrainPlan plan, int updates, Path ackLog, Path workDir,
            Duration initialBackoff, Duration maxBackoff, long seed) {
        this(name, capabilities, plan, updates, ackLog, workDir, initialBackoff, maxBackoff, seed, WireOptions.DEFAULTS);
    }

    public WorkerOptions withWire(WireOptions w) {
        return new WorkerOptions(name, capabilities, plan, updates, ackLog, workDir, initialBackoff, maxBackoff, seed, w);
    }

    /** Defaults: backoff from 100 ms up to 5 s. */
    public static WorkerOptions of(String name, TrainPlan plan, int updates, Path ackLog, Path workDir) {
        return new WorkerOptions(name, Capabilities.newBuilder().setDeviceKind("cpu")
                .setCores(Runtime.getRuntime().availableProcessors()).setMemoryBytes(Runtime.getRuntime().maxMemory())
                .addCodecs("safetensors").build(), plan, updates, ackLog, workDir, Duration.ofMillis(100),
                Duration.ofSeconds(5), name.hashCode());
    }
}
