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
     *     (nothing is stored twice); fails when it cannot be stored
     */
    CompletableFuture<Boolean> insert(String id, long policyVersion, MemorySegment payload, double priority);

    /**
     * Up to {@code n} items chosen by the buffer's sampler, waiting at most {@code timeout} for any to be
     * available; empty when none came.
     */
    List<Item> sample(int n, Duration timeout) throws InterruptedException;

    /** Removes the items (consumed by training); completes once the removal is durable. */
    CompletableFuture<Void> remove(List<String> ids);

    /** Items held. */
    long size();

    /** Makes {@code callerState} (the learner's policy, optimizer and counters) durable with the buffer's state. */
    void checkpoint(TensorMap callerState);

    /** The caller state of the last checkpoint, if any. */
    Optional<TensorMap> lastCallerState();

    @Override
    void close();
}
