package dev.tributary.coordinator.service;

import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.ModelImage;
import dev.tributary.store.AcceptedUpdate;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.DeadlinePassed;
import dev.tributary.store.Failpoints;
import dev.tributary.store.Prepared;
import dev.tributary.store.StrategyConfig;
import dev.tributary.store.UpdateLog;
import dev.tributary.coordinator.strategy.Buffered;
import dev.tributary.coordinator.strategy.Decision;
import dev.tributary.coordinator.strategy.Published;
import dev.tributary.coordinator.strategy.Refused;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.strategy.Update;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The one thread that owns the strategy. Updates are decided in arrival order. Each is first encoded as
 * the log record it will be, so that nothing the log cannot hold reaches the strategy; an accepted one is
 * then appended, and its acknowledgment completes only after the fsync that covers it. A round closed by
 * its deadline is logged the same way. A model version becomes visible (to pulls, to registrations, to
 * {@code /status} and to checkpoints) only once the record that published it is durable, so nothing a
 * worker or a checkpoint ever saw can be lost by a crash.
 *
 * <p>Should the log refuse a record after the strategy took it in (the log was closed under it), the
 * sequencer stops deciding for good: the in-memory model then differs from the log, and only a restart,
 * which replays the log, may go on.
 */
final class Sequencer implements AutoCloseable {
    /** What a worker is told when its update is durable. */
    record Ack(String updateId, boolean duplicate, long version, long staleness) {}

    /**
     * What a push's header says beyond the update itself: the lossy pull it was trained from (codec null: an
     * exact base), and its EF21 step (key null: none), whose message is turned into the estimate it leads
     * to and only then checked by {@code check} (the validator's {@code checkDelta}).
     */
    record PushContext(String baseCodec, byte[] baseDecodedSha256, String ef21Key, byte[] ef21Guard,
            java.util.function.Function<MemorySegment, TensorMap> check) {
        static final PushContext NONE = new PushContext(null, null, null, null, null);
    }

    private final Strategy strategy;
    private final UpdateLog log;
    private final Checkpoints checkpoints;
    private final int checkpointEvery;
    private volatile Runnable afterCheckpoint = () -> { };
    private final CoordinatorMetrics metrics;
    private final Consumer<String> warn;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("tributary-sequencer").daemon().unstarted(r));
    private final ExecutorService background = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("tributary-checkpointer").daemon().unstarted(r));
    private final ExecutorService hashing = Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("tributary-model-image").daemon().unstarted(r));

    // Owned by the sequencer thread.
    private final Map<String, CompletableFuture<Ack>> acks;
    private final List<CompletableFuture<Void>> retained = new ArrayList<>();
    private long accepted;
    private long acceptedAtPublish;
    private long publishEnd;
    private CompletableFuture<Void> publishDurable = CompletableFuture.completedFuture(null);
    private CompletableFuture<Void> lastDurable = CompletableFuture.completedFuture(null);
    private int publishesSinceCheckpoint;
    private CompletableFuture<ModelImage> image;
    private CompletableFuture<Void> lastCheckpoint = CompletableFuture.completedFuture(null);

    private volatile long version;
    private volatile long acceptedDurable;
    private volatile boolean closing;
    private volatile Consumer<dev.tributary.coordinator.Publication> onPublish = p -> { };
    private double stalenessSinceRelease;
    /** Bytes of models published since the last collection this sequencer asked for. */
    private long publishedSinceCollect;
    private final long collectAfter;
    private final long modelBytes;
    private double nanosSinceRelease;
    private volatile String broken;

    /** A published model kept to answer pulls from it with a version delta. */
    private record Kept(long version, TensorMap model) {}

    // Owned by the sequencer thread: the current model last, past ones before it, oldest first.
    private final java.util.ArrayDeque<Kept> kept = new java.util.ArrayDeque<>();
    /** Version deltas to the current version, by base version; dropped at each publish. */
    private final Map<Long, CompletableFuture<ModelImage>> deltas = new HashMap<>();
    /** Streaming DiLoCo: the current version's fragment values, by fragment; dropped at each publish. */
    private final Map<Integer, CompletableFuture<ModelImage>> fragmentImages = new HashMap<>();
    private final int keepVersions;
    private final long keepBytes;
    private final LossyPulls lossy;
    private final Ef21Estimates ef21;

    Sequencer(Recovery.Recovered r, UpdateLog log, Checkpoints checkpoints, int checkpointEvery,
            CoordinatorMetrics metrics, Consumer<String> warn) {
        this(r, log, checkpoints, checkpointEvery, metrics, warn, dev.tributary.coordinator.WireSettings.DEFAULTS);
    }

    /**
     * @param wire how many past versions (and bytes of them) to keep for version-delta pulls
     */
    Sequencer(Recovery.Recovered r, UpdateLog log, Checkpoints checkpoints, int checkpointEvery,
            CoordinatorMetrics metrics, Consumer<String> warn, dev.tributary.coordinator.WireSettings wire) {
        this.strategy = r.strategy();
        this.log = log;
        this.checkpoints = checkpoints;
        this.checkpointEvery = checkpointEvery;
        this.metrics = metrics;
        this.warn = warn;
        this.acks = new HashMap<>(r.acks());
        this.accepted = r.accepted();
        this.acceptedDurable = r.accepted();
        this.acceptedAtPublish = r.acceptedAtPublish();
        this.publishEnd = r.publishEnd();
        this.publishesSinceCheckpoint = r.publishesSinceCheckpoint();
        this.version = strategy.version();
        long modelBytes = 0;
        for (String n : strategy.model().names()) {
            modelBytes += strategy.model().tensor(n).byteSize();
        }
        this.modelBytes = modelBytes;
        this.collectAfter = Math.max(256L << 20, 4 * modelBytes);
        this.image = CompletableFuture.completedFuture(r.image());
        this.keepVersions = wire.pullDeltaVersions();
        this.keepBytes = wire.pullDeltaMaxBytes() > 0 ? wire.pullDeltaMaxBytes() : Long.MAX_VALUE;
        this.lossy = new LossyPulls(wire, hashing);
        this.ef21 = new Ef21Estimates(wire.ef21MaxWorkers(), wire.ef21MaxBytes(), metrics::ef21Evicted);
        keep(strategy.version(), strategy.model());
    }

    /**
     * Keeps {@code model} as the current version and as many past ones as the settings allow. Past models
     * are kept by reference: a publish makes a new model and never changes an old one.
     */
    private void keep(long v, TensorMap model) {
        deltas.clear();
        lossy.published();
        fragmentImages.clear();
        if (!kept.isEmpty() && kept.peekLast().version() == v) {
            kept.pollLast();
        }
        kept.addLast(new Kept(v, model));
        while (kept.size() > 1 && (kept.size() - 1 > keepVersions
                || (double) (kept.size() - 1) * modelBytes > keepBytes)) {
            kept.pollFirst();
        }
    }

    /**
     * The answer to a pull from a worker that holds {@code known}: the current image, with a version delta
     * from {@code known} when the worker accepts one, that version is still kept, and the delta is smaller
     * than the model. Both once the current version is durable.
     */
    CompletableFuture<ModelSender.Answer> pull(long known, boolean acceptDelta) {
        return pull("", known, acceptDelta, "", -1);
    }

    /**
     * {@link #pull(long, boolean)} with the two opt-ins of a pull. With {@code fragment} ≥ 0 (a fragment pull),
     * only that fragment's values when the current version is {@code known} + 1 and published fragment
     * {@code fragment}, the only values it changed (Streaming DiLoCo's round v merges fragment v mod F); that
     * answer is exact and the smallest, so it comes first. Otherwise, coded by {@code pullCodec} when
     * {@link LossyPulls} takes it: then the answer is the current version coded, never a version delta.
     * Anything else (an unknown or refused codec, a model that will not code) gets the answer of a plain pull.
     */
    CompletableFuture<ModelSender.Answer> pull(String workerId, long known, boolean acceptDelta, String pullCodec, int fragment) {
        return CompletableFuture.supplyAsync(() -> answer(workerId, known, acceptDelta, pullCodec, fragment), thread)
                .thenCompose(x -> x);
    }

    private CompletableFuture<ModelSender.Answer> answer(String workerId, long known, boolean acceptDelta, String pullCodec,
            int fragment) {
        CompletableFuture<ModelImage> img = currentImage();
        long current = strategy.version();
        dev.tributary.coordinator.strategy.InnerLoop inner = strategy.innerLoop();
        if (fragment >= 0 && inner != null && inner.fragments().size() > 1 && known >= 0 && known + 1 == current
                && fragment < inner.fragments().size() && Math.floorMod(known, (long) inner.fragments().size()) == fragment) {
            TensorMap model = strategy.model();
            java.util.List<dev.tributary.tensor.Fragments.Slice> slices = inner.fragments().get(fragment);
            CompletableFuture<ModelImage> values = fragmentImages.computeIfAbsent(fragment, f -> publishDurable.thenApplyAsync(
                    x -> ModelImage.of(current, dev.tributary.tensor.Fragments.cut(model, slices)), hashing));
            return img.thenCombine(values, (m, v) -> new ModelSender.Answer.Fragment(m, v, fragment));
        }
        CompletableFuture<ModelSender.Coded> coded = known == current ? null
                : lossy.answer(pullCodec, current, strategy.model(), publishDurable);
        if (coded != null) {
            return img.thenCombine(coded, (m, k) -> k == null ? new ModelSender.Answer.Full(m) : new ModelSender.Answer.Lossy(m, k));
        }
        Kept base = null;
        if (acceptDelta && known >= 0 && known != current) {
            for (Kept k : kept) {
                if (k.version() == known) {
                    base = k;
                }
            }
        }
        if (base == null) {
            return img.thenApply(ModelSender.Answer.Full::new);
        }
        TensorMap model = strategy.model();
        TensorMap from = base.model();
        CompletableFuture<ModelImage> delta = deltas.computeIfAbsent(known, b -> publishDurable.thenApplyAsync(
                x -> ModelImage.of(current, java.lang.foreign.MemorySegment.ofArray(
                        dev.tributary.codec.VersionDelta.encode(model, from))), hashing));
        return img.thenCombine(delta, (m, d) -> d.size() < m.size() ? new ModelSender.Answer.Delta(m, d, known)
                : new ModelSender.Answer.Full(m));
    }

    String strategyName() {
        return strategy.name();
    }

    /** The strategy's inner loop for workers (immutable, readable from any thread), or null. */
    dev.tributary.coordinator.strategy.InnerLoop innerLoop() {
        return strategy.innerLoop();
    }

    long version() {
        return version;
    }

    /** Accepted updates whose acknowledgment has been released (durable), recovered ones included. */
    long accepted() {
        return acceptedDurable;
    }

    /**
     * Offers a validated update; the future completes with its acknowledgment once it is durable, or
     * exceptionally with a {@link Refusal} or an UNAVAILABLE status. {@code done} runs once nothing reads
     * {@code deltaImage} any more: right after a refusal, or once the strategy let go of the delta (at a
     * publish) and the log has written it.
     */
    CompletableFuture<Ack> submit(String workerId, String updateId, long baseVersion, long examples, int localSteps,
            Map<String, Double> updateMetrics, MemorySegment deltaImage, TensorMap delta, Runnable done) {
        return submit(workerId, updateId, baseVersion, examples, localSteps, updateMetrics, deltaImage, delta,
                PushContext.NONE, done);
    }

    /**
     * {@link #submit(String, String, long, long, int, Map, MemorySegment, TensorMap, Runnable)} for a push whose
     * header names a lossy base or an EF21 step ({@code context}). A lossy base is checked first ({@link
     * LossyPulls#verify}; a coding made again runs off this thread), unless the update id was accepted already.
     */
    CompletableFuture<Ack> submit(String workerId, String updateId, long baseVersion, long examples, int localSteps,
            Map<String, Double> updateMetrics, MemorySegment deltaImage, TensorMap delta, PushContext context,
            Runnable done) {
        CompletableFuture<Boolean> checked = context.baseCodec() == null ? CompletableFuture.completedFuture(false)
                : CompletableFuture.supplyAsync(() -> {
                    if (acks.containsKey(updateId)) {
                        return CompletableFuture.completedFuture(false);
                    }
                    return lossy.verify(baseVersion, context.baseCodec(), context.baseDecodedSha256(), kept(baseVersion))
                            .thenApply(x -> true);
                }, thread).thenCompose(x -> x);
        CompletableFuture<CompletableFuture<Ack>> f = checked.handleAsync((lossyBase, error) -> {
            try {
                if (error != null) {
                    Throwable cause = Pushes.unwrap(error);
                    throw cause instanceof RuntimeException r ? r : new IllegalStateException(cause);
                }
                return decide(workerId, updateId, baseVersion, examples, localSteps, updateMetrics, deltaImage, delta,
                        lossyBase, context, done);
            } catch (RuntimeException e) {
                done.run();
                throw e;
            }
        }, thread);
        return f.thenCompose(x -> x);
    }

    /** The model of version {@code v} when it is still kept, else null. */
    private TensorMap kept(long v) {
        for (Kept k : kept) {
            if (k.version() == v) {
                return k.model();
            }
        }
        return null;
    }

    private CompletableFuture<Ack> decide(String workerId, String updateId, long base, long examples, int steps,
            Map<String, Double> updateMetrics, MemorySegment deltaImage, TensorMap delta, boolean lossyBase,
            PushContext context, Runnable done) {
        CompletableFuture<Ack> previous = acks.get(updateId);
        if (previous != null) {
            // The first push of this id was applied (and its EF21 step taken) once; this one changes nothing.
            metrics.duplicate();
            done.run();
            return previous.thenApply(a -> new Ack(a.updateId(), true, a.version(), a.staleness()));
        }
        if (log.failure() != null) {
            done.run();
            return CompletableFuture.failedFuture(Status.UNAVAILABLE
                    .withDescription("update log failed: " + log.failure().getMessage()).asRuntimeException());
        }
        if (closing || broken != null) {
            done.run();
            return CompletableFuture.failedFuture(stopping());
        }
        long current = strategy.version();
        UpdateValidator.checkBaseVersion(base, current);
        long staleness = current - base;
        String ef21Key = context.ef21Key();
        if (ef21Key != null) {
            // The message becomes the estimate it leads to (in the image, so the log holds what is applied).
            ef21.apply(ef21Key, context.ef21Guard(), delta);
            try {
                delta = context.check().apply(deltaImage);
            } catch (RuntimeException e) {
                ef21.drop(ef21Key);
                throw e;
            }
        }
        Decision d;
        Prepared record;
        long spent;
        try {
            try {
                record = Prepared.of(new AcceptedUpdate(updateId, workerId, base, examples, steps, updateMetrics, current,
                        staleness, deltaImage));
            } catch (IllegalArgumentException e) {
                throw Refusal.invalid("malformed", e.getMessage());
            }
            long t0 = System.nanoTime();
            d = strategy.onUpdate(new Update(updateId, base, examples, steps, delta, updateMetrics, workerId));
            spent = System.nanoTime() - t0;
            metrics.aggregation(Duration.ofNanos(spent));
            if (d instanceof Refused r) {
                throw Refusal.precondition(r.code(), r.reason());
            }
        } catch (RuntimeException e) {
            if (ef21Key != null) {
                ef21.drop(ef21Key);
            }
            throw e;
        }
        long after = strategy.version();
        record.version(after);
        UpdateLog.Appended a = append(record);
        accepted++;
        if (strategy.keepsDeltas()) {
            CompletableFuture<Void> letGo = new CompletableFuture<>();
            CompletableFuture.allOf(a.durable(), letGo).whenComplete((x, e) -> done.run());
            retained.add(letGo);
        } else {
            a.durable().whenComplete((x, e) -> done.run()); // the strategy folded the delta in: only the log reads it
        }
        CompletableFuture<Void> durable = a.durable();
        stalenessSinceRelease += staleness;
        nanosSinceRelease += spent;
        if (d instanceof Published p) {
            durable = onPublished(a, p);
        } else if (!(d instanceof Buffered)) {
            throw new IllegalStateException("unexpected decision " + d);
        }
        Ack ack = new Ack(updateId, false, after, staleness);
        if (lossyBase) {
            metrics.lossyBase();
        }
        CompletableFuture<Ack> acked = durable.thenApply(x -> {
            acceptedDurable++;
            metrics.accepted(staleness);
            Failpoints.hit("ack");
            return ack;
        });
        acks.put(updateId, acked);
        return acked;
    }

    /** Appends a record the strategy already acted on; a log that refuses it stops the sequencer for good. */
    private UpdateLog.Appended append(Prepared record) {
        try {
            UpdateLog.Appended a = log.append(record);
            lastDurable = a.durable();
            return a;
        } catch (RuntimeException e) {
            broken = "the update log refused a record the strategy had taken in (" + e.getMessage()
                    + "); restart the coordinator to replay the log";
            warn.accept(broken);
            throw stopping();
        }
    }

    private io.grpc.StatusRuntimeException stopping() {
        String why = broken != null ? broken : "the coordinator is stopping";
        return Status.UNAVAILABLE.withDescription(why + ": retry later with the same update id").asRuntimeException();
    }

    /** Tells {@code listener} of every version that becomes durable and visible, off the sequencer thread. */
    void onPublish(Consumer<dev.tributary.coordinator.Publication> listener) {
        onPublish = listener;
    }

    /** Appends a configuration record before anything else is decided; returns once it is durable. */
    void logConfig(StrategyConfig config) {
        CompletableFuture.supplyAsync(() -> append(Prepared.of(config)).durable(), thread).thenCompose(x -> x).join();
    }

    /** The strategy let go of every delta it held: their buffers go back once the log has written them. */
    private void releaseRetained() {
        for (CompletableFuture<Void> r : retained) {
            r.complete(null);
        }
        retained.clear();
    }

    /** Takes note of a publish; the returned future completes once the new version is durable and visible. */
    private CompletableFuture<Void> onPublished(UpdateLog.Appended a, Published p) {
        long published = p.version();
        double meanStaleness = p.updateIds().isEmpty() ? 0 : stalenessSinceRelease / p.updateIds().size();
        dev.tributary.coordinator.Publication pub = new dev.tributary.coordinator.Publication(published, p.updateIds(),
                meanStaleness, nanosSinceRelease / 1e6, strategy.model());
        stalenessSinceRelease = 0;
        nanosSinceRelease = 0;
        releaseRetained();
        keep(published, strategy.model());
        publishEnd = a.end();
        acceptedAtPublish = accepted;
        image = null;
        CompletableFuture<Void> visible = a.durable().thenRun(() -> {
            Failpoints.hit("publish");
            synchronized (this) {
                version = Math.max(version, published);
            }
        });
        visible.thenRunAsync(() -> onPublish.accept(pub), background);
        publishDurable = visible;
        reclaim();
        if (++publishesSinceCheckpoint >= checkpointEvery) {
            checkpoint();
        }
        return visible;
    }

    /**
     * Published models, images and optimizer steps live in native memory that is freed when the garbage
     * collector finds them unreachable; a coordinator's heap barely churns, so without help that can take
     * gigabytes of resident memory. Once publishes have allocated a few models' worth since the last time,
     * ask for a collection (off the sequencer thread): resident memory then stays within a few models.
     */
    private void reclaim() {
        publishedSinceCollect += 2 * modelBytes; // the new model and its image, at least
        if (publishedSinceCollect >= collectAfter) {
            publishedSinceCollect = 0;
            background.execute(System::gc);
        }
    }

    /**
     * Offers a clock tick. When the round's deadline has passed, that event is logged like an update, so
     * that replay closes the same round at the same place.
     */
    void tick(long nowMillis) {
        thread.execute(() -> {
            if (closing || broken != null || log.failure() != null || !strategy.deadlineDue(nowMillis)) {
                return;
            }
            Prepared record = Prepared.of(new DeadlinePassed(strategy.version()));
            Decision d = strategy.onDeadline();
            UpdateLog.Appended a;
            try {
                a = append(record);
            } catch (RuntimeException e) {
                return;
            }
            if (d instanceof Published p) {
                onPublished(a, p);
            }
        });
    }

    /** The current version's image, once the record that published it is durable. */
    CompletableFuture<ModelImage> image() {
        return CompletableFuture.supplyAsync(this::currentImage, thread).thenCompose(x -> x);
    }

    private CompletableFuture<ModelImage> currentImage() {
        if (image == null) {
            long v = strategy.version();
            TensorMap model = strategy.model();
            image = publishDurable.thenApplyAsync(x -> ModelImage.of(v, model), hashing);
        }
        return image;
    }

    /**
     * Runs {@code r} on the checkpointing thread after every checkpoint written (the log's compaction), never
     * beside a checkpoint write.
     */
    void afterCheckpoint(Runnable r) {
        afterCheckpoint = r;
    }

    /** Whether {@link #close} has begun. */
    boolean closing() {
        return closing;
    }

    private CompletableFuture<Void> checkpoint() {
        publishesSinceCheckpoint = 0;
        CompletableFuture<ModelImage> img = currentImage();
        TensorMap model = strategy.model();
        TensorMap state = strategy.exportState();
        long position = publishEnd;
        long applied = acceptedAtPublish;
        String name = strategy.name();
        lastCheckpoint = img.thenAcceptAsync(m -> {
            try {
                checkpoints.write(m, model, position, applied, name, state);
            } catch (IOException | RuntimeException e) {
                warn.accept("checkpoint of version " + m.version() + " failed: " + e.getMessage());
                return;
            }
            afterCheckpoint.run();
        }, background);
        return lastCheckpoint;
    }

    /** Writes a last checkpoint when something was published since the previous one, then stops. */
    @Override
    public void close() throws IOException {
        closing = true;
        try {
            thread.submit(() -> {
                if (publishesSinceCheckpoint > 0 && broken == null) {
                    checkpoint();
                }
                ef21.close();
            }).get(1, TimeUnit.MINUTES);
            lastCheckpoint.get(5, TimeUnit.MINUTES);
        } catch (Exception e) {
            warn.accept("final checkpoint failed: " + e.getMessage());
        }
        thread.shutdown();
        log.close();
        background.shutdown();
        hashing.shutdown();
    }
}
