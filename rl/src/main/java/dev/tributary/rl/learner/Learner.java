package dev.tributary.rl.learner;

import dev.tributary.coordinator.auth.BearerAuth;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.rl.env.Space;
import dev.tributary.store.ModelImage;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerInterceptors;
import java.io.IOException;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A running learner: the {@code Learner} gRPC service behind bearer-token authentication, the policy it
 * trains on the experience actors push, and the buffer that holds that experience and the learner's
 * checkpoints. Owns only the lifecycle; the work happens in the service and the training thread.
 *
 * <p>Call order: {@link #start}, then {@link #close} once (it checkpoints). A learner started again over
 * the same buffer resumes its policy, optimizer state, counters and version from the buffer's last
 * checkpoint.
 */
public final class Learner implements AutoCloseable {
    /** Largest gRPC message either side accepts: a chunk of a few MiB plus framing. */
    public static final int MAX_MESSAGE_BYTES = 8 << 20;
    /** How long an actor counts as live after it was last heard from. */
    static final long ACTOR_WINDOW_MILLIS = 30_000;

    private final Server server;
    private final LearnerConfig config;
    private final ExperienceBuffer buffer;
    private final Training training;
    private final TrainingLoop loop;
    private final Thread thread;
    private final Progress progress;
    private final LearnerMetrics metrics;
    private final ActorRegistry actors;
    private final AtomicReference<ModelImage> published;

    private Learner(Server server, LearnerConfig config, ExperienceBuffer buffer, Training training, TrainingLoop loop,
            Thread thread, Progress progress, LearnerMetrics metrics, ActorRegistry actors,
            AtomicReference<ModelImage> published) {
        this.server = server;
        this.config = config;
        this.buffer = buffer;
        this.training = training;
        this.loop = loop;
        this.thread = thread;
        this.progress = progress;
        this.metrics = metrics;
        this.actors = actors;
        this.published = published;
    }

    /**
     * Resumes from {@code buffer}'s last checkpoint (or starts a fresh policy) and serves on {@code builder}
     * (a Netty port, or an in-process name in tests). The learner owns the buffer from now on.
     *
     * @param envId        the environment actors must act in, e.g. {@code CartPole-v1}
     * @param observations its observation space (a box)
     * @param actions      its action space
     * @param log          where recovery and training warnings go
     */
    public static Learner start(ServerBuilder<?> builder, String envId, Space observations, Space actions,
            LearnerConfig config, ExperienceBuffer buffer, Tokens tokens, Consumer<String> log) throws IOException {
        Training training = new Training(config, observations, actions);
        try {
            Progress progress = new Progress();
            long version = buffer.lastCallerState().map(s -> training.restore(s, progress)).orElse(0L);
            AtomicReference<ModelImage> published = new AtomicReference<>(
                    ModelImage.of(version, training.policy().weights()));
            LearnerMetrics metrics = new LearnerMetrics();
            ActorRegistry actors = new ActorRegistry(ACTOR_WINDOW_MILLIS, System::currentTimeMillis);
            metrics.gauges(() -> published.get().version(), buffer::size, actors::live);
            LearnerService service = new LearnerService(envId, observations, actions, config, buffer, published,
                    progress, metrics, actors);
            Server server = builder
                    .addService(ServerInterceptors.intercept(service, new BearerAuth(tokens, metrics::unauthenticated)))
                    .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                    .build()
                    .start();
            TrainingLoop loop = new TrainingLoop(config, observations, actions, buffer, training, progress, metrics,
                    published, log);
            Thread thread = Thread.ofPlatform().name("tributary-learner").daemon().start(loop);
            return new Learner(server, config, buffer, training, loop, thread, progress, metrics, actors, published);
        } catch (IOException | RuntimeException e) {
            training.close();
            throw e;
        }
    }

    /** The port the server listens on (-1 for in-process servers). */
    public int port() {
        return server.getPort();
    }

    public String algo() {
        return config.algo();
    }

    /** The current (published) policy version. */
    public long version() {
        return published.get().version();
    }

    /** Environment steps in accepted items (those before a restart included). */
    public long envSteps() {
        return progress.envSteps();
    }

    /** Episodes that finished in accepted items. */
    public long episodes() {
        return progress.episodes();
    }

    /** Mean return of the last 100 finished episodes; NaN before the first. */
    public double meanReturn() {
        return progress.meanReturn();
    }

    /** Training steps taken (those before a restart included). */
    public long trainSteps() {
        return training.steps();
    }

    /** Optimizer steps taken (restored with the optimizer's state after a restart). */
    public long optimizerSteps() {
        return training.optimizerSteps();
    }

    public long bufferItems() {
        return buffer.size();
    }

    /** Items accepted by this process. */
    public long accepted() {
        return metrics.acceptedTotal();
    }

    /** Items refused by this process, all reasons together. */
    public long rejected() {
        return metrics.refusedTotal();
    }

    /** Actors heard from in the last 30 seconds. */
    public int actors() {
        return actors.live();
    }

    public LearnerMetrics metrics() {
        return metrics;
    }

    /**
     * {@code {"version", "env_steps", "episodes", "mean_return", "buffer_items", "accepted", "rejected",
     * "actors", "algo", "train_steps", "optimizer_steps", "dropped", "busy"}}; mean_return is null before the first episode.
     */
    public String statusJson() {
        double mean = meanReturn();
        // Version, training steps and optimizer steps as of one moment: read again until neither the version
        // nor the step count moved while they were read (the training thread changes them together).
        long version;
        long trained;
        long optimizer;
        do {
            version = version();
            trained = trainSteps();
            optimizer = optimizerSteps();
        } while (version != version() || trained != trainSteps());
        return "{\"version\":" + version
                + ",\"env_steps\":" + envSteps()
                + ",\"episodes\":" + episodes()
                + ",\"mean_return\":" + (Double.isNaN(mean) ? "null" : String.format(Locale.ROOT, "%.3f", mean))
                + ",\"buffer_items\":" + bufferItems()
                + ",\"accepted\":" + accepted()
                + ",\"rejected\":" + rejected()
                + ",\"actors\":" + actors()
                + ",\"algo\":\"" + algo() + "\""
                + ",\"train_steps\":" + trained
                + ",\"optimizer_steps\":" + optimizer
                + ",\"dropped\":" + metrics.droppedTotal()
                + ",\"busy\":" + metrics.busyTotal() + "}";
    }

    /** Blocks until the server stops. */
    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    /** Stops serving (running calls get 30 s), stops training, checkpoints, and closes the buffer. */
    @Override
    public void close() {
        server.shutdown();
        loop.stop();
        try {
            if (!server.awaitTermination(30, TimeUnit.SECONDS)) {
                server.shutdownNow();
            }
            thread.join(TimeUnit.SECONDS.toMillis(60));
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        try {
            if (!thread.isAlive()) {
                buffer.checkpoint(training.state(version(), progress));
            }
        } finally {
            training.close();
            buffer.close();
        }
    }
}
