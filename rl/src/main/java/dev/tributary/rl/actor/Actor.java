package dev.tributary.rl.actor;

import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.ExperienceAck;
import dev.tributary.protocol.ExperienceHeader;
import dev.tributary.protocol.RegisterActorReply;
import dev.tributary.protocol.RegisterActorRequest;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.env.VectorEnvironment;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.rl.learner.SpaceMessages;
import dev.tributary.rl.policy.ActorCritic;
import dev.tributary.worker.client.AckLog;
import dev.tributary.worker.client.Backoff;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * An actor: registers with a learner, runs the latest policy in {@code envs} environments at once
 * (batched inference), and streams experience in items of T steps. A second thread pushes finished items
 * in order and asks for a newer policy whenever it has nothing to push (a cheap header-only call when
 * nothing changed); the acting thread adopts a newer policy between two steps without stopping, and every
 * step records the version it was taken with. When the learner goes away the actor retries with backoff and
 * pushes the unacknowledged item again under the same id, so it is stored once. A learner with enough
 * experience waiting (its buffer's rate limiter holds inserts back) answers "busy" with a retry pushback and
 * the actor pushes the same item again after it, backing off while the answer stays busy; acting waits once
 * {@code pendingItems} items are waiting, so actors never run far ahead of training.
 *
 * <p>Call order: construct, {@link #run()} once (from one thread), {@link #close()} from any thread to stop
 * it early.
 */
public final class Actor implements AutoCloseable {
    private static final Set<Status.Code> RETRYABLE = Set.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED,
            Status.Code.DATA_LOSS, Status.Code.ABORTED, Status.Code.INTERNAL, Status.Code.UNKNOWN,
            Status.Code.CANCELLED);
    private static final Metadata.Key<String> RETRY_PUSHBACK_MS = Metadata.Key.of("grpc-retry-pushback-ms",
            Metadata.ASCII_STRING_MARSHALLER);
    /** The longest wait between two pushes of an item the learner answered busy for. */
    static final long MAX_BUSY_WAIT_MILLIS = 1000;

    private final LearnerClient client;
    private final Supplier<Environment> environments;
    private final ActorOptions options;
    private final Consumer<String> log;
    private final BlockingQueue<Pending> pending;
    private final AtomicReference<LearnerClient.Policy> latest = new AtomicReference<>();
    private final AtomicLong envSteps = new AtomicLong();
    private final AtomicLong acknowledged = new AtomicLong();
    private final AtomicLong duplicates = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong busy = new AtomicLong();
    private final AtomicLong policyUpdates = new AtomicLong();
    private volatile boolean closed;
    private volatile boolean actingDone;
    private volatile RuntimeException fatal;
    private volatile long version = -1;
    private String actorId = "";
    private RegisterActorReply registration;

    /** What a run did. */
    public record Summary(long envSteps, long acknowledged, long duplicates, long refused, long retries, long busy,
                          long policyUpdates, long version) {}

    private record Pending(String id, Experience experience, MemorySegment payload) {}

    public Actor(Channel channel, String token, Supplier<Environment> environments, ActorOptions options,
            Consumer<String> log) {
        this.client = new LearnerClient(channel, token, options.callDeadline());
        this.environments = environments;
        this.options = options;
        this.log = log;
        this.pending = new ArrayBlockingQueue<>(options.pendingItems());
    }

    /** Environment steps taken so far (all environments together). */
    public long envSteps() {
        return envSteps.get();
    }

    /** The policy version acting now; -1 before the first pull. */
    public long version() {
        return version;
    }

    public long acknowledged() {
        return acknowledged.get();
    }

    /**
     * Acts until {@link ActorOptions#maxEnvSteps()} steps were taken and every item was acknowledged or
     * refused, or until {@link #close()}.
     *
     * @throws IllegalStateException when the learner refuses the actor (its token or its environment)
     */
    public Summary run() throws InterruptedException, IOException {
        List<Environment> copies = new ArrayList<>();
        for (int i = 0; i < options.envs(); i++) {
            copies.add(environments.get());
        }
        try (VectorEnvironment envs = new VectorEnvironment(copies, options.seed());
                AckLog ackLog = options.ackLog() == null ? null : new AckLog(options.ackLog())) {
            registration = register(envs);
            if (registration == null) {
                return summary();
            }
            int[] hidden = registration.getHiddenList().stream().mapToInt(Integer::intValue).toArray();
            try (ActorCritic policy = ActorCritic.create(envs.observationSpace(), envs.actionSpace(), options.seed(),
                    hidden)) {
                if (!firstPolicy()) {
                    return summary();
                }
                Thread sync = Thread.ofPlatform().name("tributary-actor-sync").daemon().start(() -> sync(ackLog));
                try {
                    act(envs, policy);
                } finally {
                    actingDone = true;
                    sync.join();
                }
            }
        }
        if (fatal != null) {
            throw fatal;
        }
        return summary();
    }

    private Summary summary() {
        return new Summary(envSteps.get(), acknowledged.get(), duplicates.get(), refused.get(), retries.get(),
                busy.get(), policyUpdates.get(), version);
    }

    private RegisterActorReply register(VectorEnvironment envs) throws InterruptedException {
        RegisterActorRequest req = RegisterActorRequest.newBuilder()
                .setName(options.name())
                .setEnvId(options.envId())
                .setObservationSpace(SpaceMessages.toMessage(envs.observationSpace()))
                .setActionSpace(SpaceMessages.toMessage(envs.actionSpace()))
                .setCapabilities(Capabilities.newBuilder().setDeviceKind("cpu")
                        .setCores(Runtime.getRuntime().availableProcessors()))
                .setEnvs(options.envs())
                .build();
        Backoff backoff = backoff();
        while (!closed) {
            try {
                RegisterActorReply r = client.register(req);
                actorId = r.getActorId();
                return r;
            } catch (StatusRuntimeException e) {
                if (!RETRYABLE.contains(e.getStatus().getCode())) {
                    throw new IllegalStateException("the learner refused this actor: " + describe(e));
                }
                waitBefore(backoff, "registering", e);
            }
        }
        return null;
    }

    private boolean firstPolicy() throws InterruptedException {
        Backoff backoff = backoff();
        while (!closed) {
            try {
                latest.set(client.pull(actorId, -1));
                return true;
            } catch (StatusRuntimeException e) {
                if (!RETRYABLE.contains(e.getStatus().getCode())) {
                    throw new IllegalStateException("the learner refused the policy pull: " + describe(e));
                }
                waitBefore(backoff, "pulling the policy", e);
            }
        }
        return false;
    }

    /** The acting thread: steps, adopting newer policies in between, and queues finished items. */
    private void act(VectorEnvironment envs, ActorCritic policy) throws InterruptedException {
        ItemBuilder builder = new ItemBuilder(envs, registration.getStepsPerItem());
        while (!closed && fatal == null && (options.maxEnvSteps() == 0 || envSteps.get() < options.maxEnvSteps())) {
            Experience x = null;
            while (x == null) {
                if (closed) {
                    return;
                }
                adopt(policy);
                long start = System.nanoTime();
                x = builder.step(policy, version);
                envSteps.addAndGet(builder.envs());
                if (options.slowdown() > 1) {
                    long took = System.nanoTime() - start;
                    TimeUnit.NANOSECONDS.sleep((long) ((options.slowdown() - 1) * took));
                }
            }
            Pending p = new Pending(UUID.randomUUID().toString(), x,
                    ExperienceFormat.toBytes(x, envs.actionSpace(), Arena.ofAuto()));
            while (!closed && fatal == null && !pending.offer(p, 100, TimeUnit.MILLISECONDS)) {
                // the learner is behind or away: wait with the item rather than act ahead of it
            }
        }
    }

    /** Takes the newest pulled policy between two steps, if it differs from the one acting. */
    private void adopt(ActorCritic policy) {
        LearnerClient.Policy p = latest.get();
        if (p != null && p.version() != version && !p.unchanged()) {
            policy.setWeights(p.weights());
            version = p.version();
            policyUpdates.incrementAndGet();
        }
    }

    /** The sync thread: pushes items in order, and between them asks for a newer policy. */
    private void sync(AckLog ackLog) {
        try {
            while (!closed && fatal == null) {
                Pending p = pending.poll(options.poll().toMillis(), TimeUnit.MILLISECONDS);
                if (p != null) {
                    push(p, ackLog);
                } else if (actingDone) {
                    return;
                }
                pullNewer();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            fatal = e;
        }
    }

    private void pullNewer() {
        LearnerClient.Policy held = latest.get();
        try {
            LearnerClient.Policy p = client.pull(actorId, held == null ? -1 : held.version());
            if (!p.unchanged()) {
                latest.set(p);
            }
        } catch (StatusRuntimeException e) {
            if (!RETRYABLE.contains(e.getStatus().getCode())) {
                throw new IllegalStateException("the learner refused the policy pull: " + describe(e));
            }
            // the learner is away; the next push finds out and backs off
        }
    }

    private void push(Pending p, AckLog ackLog) throws InterruptedException {
        Experience x = p.experience();
        ExperienceHeader h = ExperienceHeader.newBuilder()
                .setItemId(p.id())
                .setActorId(actorId)
                .setEnvId(options.envId())
                .setSteps(x.steps())
                .setEnvs(x.envs())
                .setMinPolicyVersion(x.minPolicyVersion())
                .setMaxPolicyVersion(x.maxPolicyVersion())
                .build();
        Backoff backoff = backoff();
        boolean away = false;
        int busyInARow = 0;
        while (!closed) {
            try {
                ExperienceAck ack = client.push(h, p.payload());
                if (ackLog != null) {
                    ackLog.append(p.id());
                }
                acknowledged.incrementAndGet();
                if (ack.getDuplicate()) {
                    duplicates.incrementAndGet();
                }
                if (away) {
                    log.accept("learner back: item " + p.id() + " acknowledged after " + backoff.attempts() + " retries");
                }
                return;
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
                    throw new IllegalStateException("the learner refused this actor: " + describe(e));
                }
                if (!RETRYABLE.contains(code)) {
                    refused.incrementAndGet();
                    log.accept("item " + p.id() + " refused: " + describe(e));
                    return;
                }
                if (code == Status.Code.UNAVAILABLE && String.valueOf(e.getStatus().getDescription()).startsWith("busy")) {
                    // The learner is up but its buffer's rate limiter holds inserts back until it has trained:
                    // wait what it asks for (its retry pushback), longer while it stays busy, at most a second.
                    busy.incrementAndGet();
                    TimeUnit.MILLISECONDS.sleep(busyWaitMillis(pushbackMillis(e), busyInARow++));
                    continue;
                }
                retries.incrementAndGet();
                if (!away) {
                    log.accept("learner unavailable (" + describe(e) + "): retrying item " + p.id());
                    away = true;
                }
                TimeUnit.MILLISECONDS.sleep(backoff.next().toMillis());
            } catch (IOException e) {
                throw new UncheckedIOException("writing the acknowledgment log: " + e.getMessage(), e);
            }
        }
    }

    /** The learner's retry pushback in milliseconds (gRPC's trailer), 0 when absent or unreadable. */
    static long pushbackMillis(StatusRuntimeException e) {
        Metadata trailers = e.getTrailers();
        String v = trailers == null ? null : trailers.get(RETRY_PUSHBACK_MS);
        try {
            return v == null ? 0 : Math.max(0, Long.parseLong(v.strip()));
        } catch (NumberFormatException ex) {
            return 0;
        }
    }

    /**
     * How long to wait after the {@code inARow}-th busy answer in a row (from 0): the poll interval doubling
     * each time, at least the learner's pushback, at most {@value #MAX_BUSY_WAIT_MILLIS} ms.
     */
    long busyWaitMillis(long pushback, int inARow) {
        long grown = options.poll().toMillis() << Math.min(inARow, 10);
        return Math.min(MAX_BUSY_WAIT_MILLIS, Math.max(pushback, grown));
    }

    private void waitBefore(Backoff backoff, String what, StatusRuntimeException e) throws InterruptedException {
        retries.incrementAndGet();
        if (backoff.attempts() == 0) {
            log.accept("learner unavailable while " + what + " (" + describe(e) + "): retrying");
        }
        TimeUnit.MILLISECONDS.sleep(backoff.next().toMillis());
    }

    private Backoff backoff() {
        return new Backoff(options.initialBackoff(), options.maxBackoff(), new SplittableRandom(options.seed()));
    }

    private static String describe(StatusRuntimeException e) {
        String d = e.getStatus().getDescription();
        return e.getStatus().getCode() + (d == null ? "" : ": " + d);
    }

    /** Stops acting and pushing; items not yet acknowledged are left unpushed. */
    @Override
    public void close() {
        closed = true;
    }
}
