package dev.tributary.rl.learner;

import dev.tributary.tensor.TensorMap;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Where the learner keeps experience between an actor's push and training: the shape of the replay
 * module's {@code Table}, so that a table plugs in through a few forwarding lines.
 *
 * <p>Call order: {@link #insert} from any thread (one per pushed item; the learner acknowledges the item
 * once the future says it is durable); {@link #sample}, {@link #remove} and {@link #checkpoint} from the
 * training thread: sample a batch, train on it, remove what was consumed, checkpoint the learner's state;
 * {@link #lastCallerState} once at start to resume; {@link #close} once at the end.
 */
public interface ExperienceBuffer extends AutoCloseable {

    /** One stored item: its payload (a safetensors image, see {@code ExperienceFormat}) and where it came in. */
    record Item(String id, long policyVersion, MemorySegment payload, double priority, long sequence) {}

    /**
     * Stores {@code payload} (copied or owned from now on) under {@code id}.
     *
     * @return completes with true once the item is durable, with false when {@code id} was inserted before
     *     (nothing is stored twice); fails with {@code dev.tributary.replay.InsertRefusedException} when the
     *     rate limiter or the buffer's bound refuses it (the actor is told busy), otherwise when it cannot be stored
     */
    CompletableFuture<Boolean> insert(String id, long policyVersion, MemorySegment payload, double priority);

    /**
     * Up to {@code n} items chosen by the buffer's sampler, waiting at most {@code timeout} for any to be
     * available; empty when none came.
     */
    List<Item> sample(int n, Duration timeout) throws InterruptedException;

    /** Removes the items (consumed by training); completes once the removal is durable. */
    CompletableFuture<Void> remove(List<String> ids);

    /**
     * Whether {@code id} was ever inserted, still held or consumed since: the buffer's durable index of ids
     * (for a table, rebuilt from its whole log at start), so that a push repeated after a restart is known as
     * a duplicate however far its policy version has fallen behind.
     */
    boolean contains(String id);

    /**
     * Why an insert would be refused now (the rate limiter's reason, or a full buffer), in one line; null when
     * it may proceed. A hint for refusing a push before its payload travels: {@link #insert} decides again and
     * fails with {@code InsertRefusedException} when it refuses.
     */
    String whyNotInsert();

    /** Items held. */
    long size();

    /** Makes {@code callerState} (the learner's policy, optimizer and counters) durable with the buffer's state. */
    void checkpoint(TensorMap callerState);

    /** The caller state of the last checkpoint, if any. */
    Optional<TensorMap> lastCallerState();

    @Override
    void close();
}
