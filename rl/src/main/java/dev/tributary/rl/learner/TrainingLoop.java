package dev.tributary.rl.learner;

import dev.tributary.rl.env.Space;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.store.ModelImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * The learner's own thread: waits for a batch of {@code batch_items} items, drops those that lag beyond
 * {@code max_lag} by now, takes one training step, removes the batch from the buffer, and every
 * {@code publish_every} steps checkpoints the state with the next version before publishing it, so that a
 * restarted learner never serves a version older than one it served.
 */
final class TrainingLoop implements Runnable {
    private static final Duration SAMPLE_WAIT = Duration.ofMillis(100);

    private final LearnerConfig config;
    private final Space observations;
    private final Space actions;
    private final ExperienceBuffer buffer;
    private final Training training;
    private final Progress progress;
    private final LearnerMetrics metrics;
    private final AtomicReference<ModelImage> published;
    private final Consumer<String> warn;
    private volatile boolean stopping;

    TrainingLoop(LearnerConfig config, Space observations, Space actions, ExperienceBuffer buffer, Training training,
            Progress progress, LearnerMetrics metrics, AtomicReference<ModelImage> published, Consumer<String> warn) {
        this.config = config;
        this.observations = observations;
        this.actions = actions;
        this.buffer = buffer;
        this.training = training;
        this.progress = progress;
        this.metrics = metrics;
        this.published = published;
        this.warn = warn;
    }

    void stop() {
        stopping = true;
    }

    @Override
    public void run() {
        while (!stopping) {
            try {
                if (!step()) {
                    Thread.sleep(10);
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                warn.accept("training step failed: " + e.getMessage());
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException ie) {
                    return;
                }
            }
        }
    }

    /** One training step if a full batch is there; false when there was not enough experience. */
    boolean step() throws InterruptedException {
        if (buffer.size() < config.batchItems()) {
            return false;
        }
        long version = published.get().version();
        Map<String, ExperienceBuffer.Item> items = new LinkedHashMap<>();
        for (ExperienceBuffer.Item it : buffer.sample(config.batchItems(), SAMPLE_WAIT)) {
            items.putIfAbsent(it.id(), it);
        }
        List<String> drop = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        List<Experience> batch = new ArrayList<>();
        for (ExperienceBuffer.Item it : items.values()) {
            if (version - it.policyVersion() > config.maxLag()) {
                drop.add(it.id());
                continue;
            }
            try {
                batch.add(ExperienceFormat.decode(ModelImage.tensors(it.payload(), "item " + it.id()), observations,
                        actions));
                ids.add(it.id());
            } catch (IllegalArgumentException e) {
                warn.accept("item " + it.id() + " in the buffer is unreadable, dropped: " + e.getMessage());
                drop.add(it.id());
            }
        }
        if (!drop.isEmpty()) {
            buffer.remove(drop).join();
            metrics.dropped(drop.size());
        }
        if (batch.size() < config.batchItems()) {
            return false;
        }
        long start = System.nanoTime();
        training.step(batch);
        buffer.remove(ids).join();
        if (training.steps() % config.publishEvery() == 0) {
            long next = version + 1;
            buffer.checkpoint(training.state(next, progress));
            published.set(ModelImage.of(next, training.policy().weights()));
        }
        metrics.trained(Duration.ofNanos(System.nanoTime() - start));
        return true;
    }
}
