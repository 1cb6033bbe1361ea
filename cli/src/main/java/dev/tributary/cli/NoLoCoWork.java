package dev.tributary.cli;

import dev.tributary.train.Task;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.client.Backoff;
import dev.tributary.worker.client.UnreachableException;
import dev.tributary.worker.client.WorkerOptions;
import dev.tributary.worker.diloco.NoLoCoRun;
import dev.tributary.worker.diloco.NoLoCoWorker;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;

/** {@code tributary work} under NoLoCo: finding out whether the coordinator serves it, and the run. */
final class NoLoCoWork {
    private NoLoCoWork() {}

    /**
     * Whether the coordinator serves {@code PeerRelay} (runs noloco): its Plan answers, where any other
     * strategy's coordinator answers UNIMPLEMENTED. Retried with backoff while the coordinator is unreachable.
     */
    static boolean served(ManagedChannel channel, String token, WorkerOptions options, Duration giveUp, PrintWriter err)
            throws InterruptedException, UnreachableException {
        Backoff backoff = new Backoff(options.initialBackoff(), options.maxBackoff(), new SplittableRandom(options.seed()));
        long since = System.nanoTime();
        while (true) {
            try {
                NoLoCoWorker.plan(channel, token, options.name());
                return true;
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code == Status.Code.UNIMPLEMENTED) {
                    return false;
                }
                if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
                    throw new UserException("--token: coordinator " + channel.authority() + " refused it (" + code + ")", e);
                }
                String status = e.getStatus().getDescription() == null ? code.toString()
                        : code + ": " + e.getStatus().getDescription();
                if (giveUp != null && System.nanoTime() - since >= giveUp.toNanos()) {
                    throw new UnreachableException(channel.authority(), Duration.ofNanos(System.nanoTime() - since), status);
                }
                Duration wait = backoff.next();
                if (backoff.attempts() == 1 || backoff.attempts() % 10 == 0) {
                    err.println("coordinator " + channel.authority() + " unavailable (" + status + "); retrying in "
                            + wait.toMillis() + " ms");
                    err.flush();
                }
                Thread.sleep(wait);
            }
        }
    }

    /** Runs NoLoCo until {@code options.updates()} exchanges are done (forever when 0); prints a line per exchange. */
    static int run(ManagedChannel channel, String token, Task task, int worker, int workers, long seed, double slowdown,
            WorkerOptions options, Duration giveUp, String coordinator, PrintWriter out, PrintWriter err) throws Exception {
        AtomicBoolean done = new AtomicBoolean();
        try (LocalTrainer trainer = SlowedTrainer.wrap(task.trainer(worker, workers, seed), slowdown);
                NoLoCoRun run = new NoLoCoRun(channel, token, trainer, options, m -> {
                    if (!done.get()) {
                        err.println(m);
                        err.flush();
                    }
                })) {
            run.giveUpAfter(giveUp);
            run.onExchanged(line -> {
                if (!done.get()) {
                    out.println(line);
                    out.flush();
                }
            });
            Thread hook = new Thread(() -> {
                if (done.compareAndSet(false, true)) {
                    out.println("stopped; " + run.summary());
                    out.flush();
                }
            }, "tributary-work-summary");
            Runtime.getRuntime().addShutdownHook(hook);
            try {
                run.run();
            } finally {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException stopping) {
                    // the hook runs, or ran, and prints the summary
                }
            }
            if (done.compareAndSet(false, true)) {
                out.println(run.summary());
                out.flush();
            }
            return 0;
        } catch (UnreachableException e) {
            throw new UserException(e.getMessage(), e);
        } catch (IllegalStateException e) {
            throw new UserException(e.getMessage(), e);
        } catch (StatusRuntimeException e) {
            Status.Code code = e.getStatus().getCode();
            if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
                throw new UserException("--token: coordinator " + coordinator + " refused it (" + code + ")", e);
            }
            throw e;
        } finally {
            done.set(true);
        }
    }
}
