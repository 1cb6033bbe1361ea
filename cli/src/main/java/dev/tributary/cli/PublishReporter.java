package dev.tributary.cli;

import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.Publication;
import dev.tributary.train.Task;
import java.io.PrintWriter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What {@code serve} says about each published version: one line per publish and, with a task, an
 * evaluation of every k-th version on its test set. Evaluations run on their own thread; when they fall
 * behind, the newest waiting version is evaluated and older ones are skipped.
 */
final class PublishReporter implements AutoCloseable {
    private final Coordinator coordinator;
    private final Task task;
    private final int every;
    private final boolean quiet;
    private final PrintWriter out;
    private final ExecutorService evaluator = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("tributary-evaluator").daemon().unstarted(r));
    private final AtomicReference<Publication> waiting = new AtomicReference<>();

    PublishReporter(Coordinator coordinator, Task task, int every, boolean quiet, PrintWriter out) {
        this.coordinator = coordinator;
        this.task = task;
        this.every = every;
        this.quiet = quiet;
        this.out = out;
    }

    void published(Publication p) {
        if (!quiet) {
            print(p.describe());
        }
        if (task != null && p.version() % every == 0 && waiting.getAndSet(p) == null) {
            evaluator.execute(this::evaluateWaiting);
        }
    }

    private void evaluateWaiting() {
        Publication p = waiting.getAndSet(null);
        if (p == null) {
            return;
        }
        try {
            Map<String, Double> m = new TreeMap<>(task.evaluate(p.model()));
            coordinator.evaluated(p.version(), m);
            StringBuilder line = new StringBuilder("version " + p.version() + " evaluated:");
            m.forEach((k, v) -> line.append(String.format(" %s %.4f", k, v)));
            print(line.toString());
        } catch (RuntimeException e) {
            print("warning: evaluating version " + p.version() + " failed: " + Errors.message(e));
        }
    }

    private void print(String line) {
        synchronized (out) {
            out.println(line);
            out.flush();
        }
    }

    @Override
    public void close() {
        evaluator.shutdownNow();
    }
}
