package dev.tributary.worker.client;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;

/**
 * The timer behind {@code work --give-up-after}: how long the coordinator has not answered, and the
 * {@link UnreachableException} once that passes the limit. A worker calls {@link #answered} after every
 * call that reached the coordinator and {@link #failed} after every one that did not. The limit may be set
 * from any thread; the rest is for the worker's own loop.
 */
public final class GiveUp {
    private final String target;
    private volatile Duration after;
    /** When the coordinator stopped answering (System.nanoTime), or 0 while it answers. */
    private long since;

    /** A timer for calls to {@code target} (named in the exception), without a limit until {@link #after}. */
    public GiveUp(String target) {
        this.target = target;
    }

    /**
     * Gives up once the coordinator has not answered for {@code limit}; null (the default) retries forever.
     *
     * @throws IllegalArgumentException when {@code limit} is zero or negative
     */
    public void after(Duration limit) {
        if (limit != null && (limit.isNegative() || limit.isZero())) {
            throw new IllegalArgumentException("giveUpAfter <= 0: " + limit);
        }
        after = limit;
    }

    /** The coordinator answered: the clock stops. */
    public void answered() {
        since = 0;
    }

    /**
     * A call failed with {@code e}: starts the clock if it is not running.
     *
     * @throws UnreachableException once the coordinator has not answered for the limit
     */
    public void failed(StatusRuntimeException e) throws UnreachableException {
        long now = System.nanoTime();
        if (since == 0) {
            since = now;
        }
        Duration limit = after;
        if (limit != null && now - since >= limit.toNanos()) {
            throw new UnreachableException(target, Duration.ofNanos(now - since), describe(e.getStatus()));
        }
    }

    /** A status as a worker's log line shows it: the code, and the description when there is one. */
    public static String describe(Status s) {
        return s.getDescription() == null ? s.getCode().toString() : s.getCode() + ": " + s.getDescription();
    }
}
