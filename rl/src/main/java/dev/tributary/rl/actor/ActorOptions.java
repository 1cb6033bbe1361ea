package dev.tributary.rl.actor;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How an actor runs.
 *
 * @param name           the name it registers under
 * @param envId          the environment's id, e.g. {@code CartPole-v1}
 * @param envs           environments stepped together (batched inference over them)
 * @param seed           seeds the environments and the action sampling
 * @param slowdown       ≥ 1: after each step, wait (slowdown − 1) times as long as the step took, to emulate a
 *                       slower device
 * @param maxEnvSteps    stop after the item in which this many environment steps (all environments together)
 *                       were reached, once every item is acknowledged or refused; 0 runs until closed
 * @param ackLog         a file to append each acknowledged item id to, or null
 * @param initialBackoff first wait before a retry
 * @param maxBackoff     longest wait between retries
 * @param poll           how often the actor asks for a newer policy while it has nothing to push
 * @param pendingItems   finished items waiting to be pushed at most; acting waits beyond that
 * @param callDeadline   deadline of every call to the learner
 */
public record ActorOptions(String name, String envId, int envs, long seed, double slowdown, long maxEnvSteps,
                           Path ackLog, Duration initialBackoff, Duration maxBackoff, Duration poll, int pendingItems,
                           Duration callDeadline) {

    public ActorOptions {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(envId, "envId");
        if (envs < 1 || envs > 4096) {
            throw new IllegalArgumentException("envs " + envs + ": must be in [1, 4096]");
        }
        if (!(slowdown >= 1) || Double.isInfinite(slowdown)) {
            throw new IllegalArgumentException("slowdown " + slowdown + ": must be a finite number >= 1");
        }
        if (maxEnvSteps < 0) {
            throw new IllegalArgumentException("maxEnvSteps " + maxEnvSteps + ": must be >= 0");
        }
        if (pendingItems < 1) {
            throw new IllegalArgumentException("pendingItems " + pendingItems + ": must be >= 1");
        }
        if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("backoff needs 0 < initial <= max: " + initialBackoff + ", " + maxBackoff);
        }
    }

    /** Defaults: 4 environments, no slowdown, until closed, backoff 100 ms to 5 s, polling every 50 ms. */
    public static ActorOptions of(String name, String envId, long seed) {
        return new ActorOptions(name, envId, 4, seed, 1, 0, null, Duration.ofMillis(100), Duration.ofSeconds(5),
                Duration.ofMillis(50), 4, Duration.ofSeconds(60));
    }

    public ActorOptions withSlowdown(double x) {
        return new ActorOptions(name, envId, envs, seed, x, maxEnvSteps, ackLog, initialBackoff, maxBackoff, poll,
                pendingItems, callDeadline);
    }

    public ActorOptions withMaxEnvSteps(long n) {
        return new ActorOptions(name, envId, envs, seed, slowdown, n, ackLog, initialBackoff, maxBackoff, poll,
                pendingItems, callDeadline);
    }

    public ActorOptions withAckLog(Path file) {
        return new ActorOptions(name, envId, envs, seed, slowdown, maxEnvSteps, file, initialBackoff, maxBackoff, poll,
                pendingItems, callDeadline);
    }

    public ActorOptions withEnvs(int n) {
        return new ActorOptions(name, envId, n, seed, slowdown, maxEnvSteps, ackLog, initialBackoff, maxBackoff, poll,
                pendingItems, callDeadline);
    }

    public ActorOptions withBackoff(Duration initial, Duration max) {
        return new ActorOptions(name, envId, envs, seed, slowdown, maxEnvSteps, ackLog, initial, max, poll,
                pendingItems, callDeadline);
    }
}
