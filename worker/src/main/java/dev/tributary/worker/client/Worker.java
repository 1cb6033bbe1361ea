package dev.tributary.worker.client;

import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.RegisterReply;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import dev.tributary.worker.diloco.DiLoCoLoop;
import dev.tributary.worker.diloco.DiLoCoPlan;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The worker loop: register, pull the model (skipped when the version held is current), train through
 * the {@link LocalTrainer}, push the delta under a fresh UUID, and record the id in the ack log once
 * the coordinator acknowledged it. A heartbeat on a virtual thread keeps the lease. When the coordinator
 * goes away the loop waits with exponential backoff and jitter and pushes the same update again under
 * the same id, so that an update the coordinator made durable before it died is not applied twice. When
 * the coordinator answers busy (a refusal with a retry pushback: out of memory budget, too many streams)
 * the loop waits at least that long, with jitter, and pushes the same update again; an update refused
 * for what it is (its shape, its staleness, its size) is dropped with one line in the log.
 *
 * <p>Under DiLoCo the coordinator hands over the inner loop at registration and the worker runs it
 * ({@link DiLoCoLoop}): a replica that keeps its weights and inner optimizer across rounds, the round's
 * share of the {@code inner_steps} (the plan in the options is not used), a push of the fragment due,
 * the overlap steps, then the merge of the next version into the replica.
 *
 * <p>Call order: construct, {@link #run} once, {@link #close}.
 */
public final class Worker implements AutoCloseable {
    /** Refusals of the update itself: it is dropped and the loop goes on, unless the coordinator asked to retry. */
    private static final Set<Status.Code> FINAL = EnumSet.of(Status.Code.INVALID_ARGUMENT,
            Status.Code.FAILED_PRECONDITION, Status.Code.RESOURCE_EXHAUSTED, Status.Code.OUT_OF_RANGE);
    static final Metadata.Key<String> RETRY_PUSHBACK_MS = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);
    /** The trailer a refusal's short reason code comes in ({@code staleness}, {@code shape}, …). */
    static final Metadata.Key<String> REASON = Metadata.Key.of("tributary-reason", Metadata.ASCII_STRING_MARSHALLER);
    /** The longest pushback honoured. */
    static final long MAX_PUSHBACK_MILLIS = 60_000;

    private final CoordinatorClient client;
    /** The coordinator's address, for messages. */
    private final String target;
    private final LocalTrainer trainer;
    private final WorkerOptions options;
    private final Consumer<String> log;
    private final Backoff backoff;
    private final SplittableRandom random;
    private final AckLog ackLog;

    private volatile String workerId;
    private volatile boolean reregister = true;
    private volatile long leaseMillis = 10_000;
    private volatile long latestVersion = -1;
    private boolean waitForNewVersion;
    private long heldVersion = -1;
    private SafetensorsFile held;
    /** The codec the held model was decoded from (a lossy pull), or null when it is the exact version. */
    private String heldCodec;
    /** The held model's image SHA-256 (hex): with {@code heldCodec}, the decoded weights' the coordinator published. */
    private String heldSha256;
    /** Why the next pull is of the whole f32 model (the coordinator could not check a lossy base), or null. */
    private String exactPullNext;
    private Pending pending;
    private long lastPushedBase = -1;
    private DiLoCoPlan innerPlan;
    private DiLoCoLoop loop;
    private DeltaEncoder encoder;
    private final Progress progress = new Progress();
    private volatile Consumer<Progress.Pushed> onPushed = p -> { };
    private long trainingStarted;
    private final GiveUp giveUp;

    /**
     * An update trained and saved (as it goes on the wire), not yet acknowledged; slot: its fragment;
     * {@code started}: when its training began (nanos); {@code baseCodec} and {@code baseSha256}: the lossy pull
     * it was trained from (null: an exact base); {@code feedback} and {@code estimateSha256}: its error feedback.
     */
    private record Pending(String id, long baseVersion, TrainResult result, Path file, int slot, String codec, long started,
            String baseCodec, String baseSha256, String feedback, byte[] estimateSha256) {
        Pending recoded(DeltaEncoder.Encoded e) {
            return new Pending(id, baseVersion, result, e.file(), slot, e.codec(), started, baseCodec, baseSha256,
                    e.feedback(), e.estimateSha256());
        }
    }

    /** What {@link #run} did. */
    public record Summary(int acknowledged, int duplicates, int refused, int retries) {}

    public Worker(Channel channel, String token, LocalTrainer trainer, WorkerOptions options, Consumer<String> log) throws IOException {
        this.client = new CoordinatorClient(channel, token);
        this.target = channel.authority();
        this.giveUp = new GiveUp(target);
        this.trainer = trainer;
        this.options = options;
        this.log = log;
        this.random = new SplittableRandom(options.seed());
        this.backoff = new Backoff(options.initialBackoff(), options.maxBackoff(), random.split());
        this.ackLog = options.ackLog() == null ? null : new AckLog(options.ackLog());
        this.encoder = new DeltaEncoder(options.wire(), 1, log);
        Files.createDirectories(options.workDir());
    }

    /** What this worker did so far, readable from any thread. */
    public Progress progress() {
        return progress;
    }

    /** Tells {@code listener} of every answered push (accepted or refused), on the worker's thread. Call before {@link #run}. */
    public void onPushed(Consumer<Progress.Pushed> listener) {
        onPushed = java.util.Objects.requireNonNull(listener, "listener");
    }

    /**
     * Gives up, with an {@link UnreachableException}, once the coordinator has not answered for {@code after}
     * (null, the default: retry forever). Call before {@link #run}.
     */
    public void giveUpAfter(Duration after) {
        giveUp.after(after);
    }

    /** Runs until {@code options.updates()} updates are acknowledged (forever when 0). */
    public Summary run() throws IOException, InterruptedException {
        int acked = 0;
        int duplicates = 0;
        int refused = 0;
        int retries = 0;
        Thread heartbeat = Thread.ofVirtual().name("tributary-heartbeat").start(this::heartbeatLoop);
        try {
            int round = 0;
            while (options.updates() == 0 || acked < options.updates()) {
                try {
                    if (reregister) {
                        register();
                    }
                    if (pending == null) {
                        if (!prepare(round)) {
                            continue;
                        }
                        round++;
                    }
                    long bytes = Files.size(pending.file());
                    PushAck ack = client.push(new CoordinatorClient.Update(pending.id(), workerId, pending.baseVersion(),
                            pending.result().examples(), pending.result().steps(), pending.result().metrics(), pending.file(),
                            pending.codec(), pending.baseCodec(), pending.baseSha256(), pending.feedback(),
                            pending.estimateSha256()));
                    giveUp.answered();
                    encoder.acked(pending.slot());
                    report(bytes, ack.getVersion(), ack.getStaleness(), ack.getDuplicate(), null);
                    if (ackLog != null) {
                        ackLog.append(pending.id());
                    }
                    acked++;
                    duplicates += ack.getDuplicate() ? 1 : 0;
                    latestVersion = Math.max(latestVersion, ack.getVersion());
                    lastPushedBase = pending.baseVersion();
                    Files.deleteIfExists(pending.file());
                    pending = null;
                    backoff.reset();
                } catch (StatusRuntimeException e) {
                    Status.Code code = e.getStatus().getCode();
                    long pushback = pushbackMillis(e);
                    if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
                        throw e;
                    }
                    if (pushback == 0 && code == Status.Code.FAILED_PRECONDITION && pending != null
                            && "ef21_estimate".equals(reasonOf(e)) && pending.estimateSha256().length > 0) {
                        // The coordinator lost (or never had) the h this update was coded against: from h = 0.
                        DeltaEncoder.Encoded again = encoder.estimateRefused(pending.slot(), pending.file(), describe(e.getStatus()));
                        if (again != null) {
                            pending = pending.recoded(again);
                            continue;
                        }
                    }
                    if (pushback == 0 && FINAL.contains(code)) {
                        refused++;
                        if (pending != null && "lossy_base".equals(reasonOf(e))) {
                            exactPullNext = describe(e.getStatus());
                        }
                        if (pending != null) {
                            report(Files.size(pending.file()), -1, 0, false, reasonOf(e) + ": " + describe(e.getStatus()));
                        }
                        log.accept("update " + (pending == null ? "" : pending.id() + " ") + "refused, dropped: "
                                + describe(e.getStatus()));
                        if (pending != null) {
                            encoder.refused(pending.slot(), describe(e.getStatus()));
                        }
                        dropPending();
                        continue;
                    }
                    // Busy (the coordinator asked to retry later) or gone: the same update again, later.
                    retries++;
                    progress.retried();
                    if (pushback == 0) {
                        giveUp.failed(e);
                    }
                    Duration wait = backoff.next();
                    if (wait.toMillis() < pushback) {
                        wait = Duration.ofMillis(pushback + random.nextLong(pushback / 2 + 1));
                    }
                    if (backoff.attempts() == 1 || backoff.attempts() % 10 == 0) {
                        log.accept("coordinator " + target + (pushback > 0 ? " busy (" : " unavailable (") + describe(e.getStatus())
                                + "); retrying in " + wait.toMillis() + " ms");
                    }
                    if (pushback == 0) {
                        reregister = true;
                    }
                    Thread.sleep(wait);
                }
            }
        } finally {
            heartbeat.interrupt();
        }
        return new Summary(acked, duplicates, refused, retries);
    }

    /** Counts an answered push of the pending update and tells the listener. */
    private void report(long bytes, long version, long staleness, boolean duplicate, String refusal) {
        double loss = pending.result().metrics().getOrDefault("loss", Double.NaN);
        Progress.Pushed p = progress.pushed(pending.baseVersion(), loss, pending.result().examples(), bytes, version, staleness,
                duplicate, refusal, Duration.ofNanos(System.nanoTime() - pending.started()));
        onPushed.accept(p);
    }

    /** The short reason code of a refusal (the coordinator's trailer), else the status code in lower case. */
    static String reasonOf(StatusRuntimeException e) {
        Metadata trailers = e.getTrailers();
        String reason = trailers == null ? null : trailers.get(REASON);
        return reason != null && !reason.isBlank() ? reason : e.getStatus().getCode().name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The coordinator's request to wait before retrying (gRPC's retry pushback trailer), 0 when absent. */
    static long pushbackMillis(StatusRuntimeException e) {
        Metadata trailers = e.getTrailers();
        String v = trailers == null ? null : trailers.get(RETRY_PUSHBACK_MS);
        if (v == null) {
            return 0;
        }
        try {
            return Math.clamp(Long.parseLong(v.strip()), 0, MAX_PUSHBACK_MILLIS);
        } catch (NumberFormatException ex) {
            return 0;
        }
    }

    private static String describe(Status s) {
        return GiveUp.describe(s);
    }

    private void register() {
        Capabilities caps = options.capabilities();
        RegisterReply r = client.register(options.name(), caps);
        workerId = r.getWorkerId();
        giveUp.answered();
        leaseMillis = r.getLeaseMillis();
        latestVersion = Math.max(latestVersion, r.getVersion());
        waitForNewVersion = r.getWaitForNewVersion();
        DiLoCoPlan plan = r.hasInnerLoop() ? DiLoCoPlan.of(r.getInnerLoop()) : null;
        if (!java.util.Objects.equals(plan, innerPlan)) {
            closeLoop();
            innerPlan = plan;
            // Residuals belong to the tensors and cadence of the old plan.
            encoder.close();
            encoder = new DeltaEncoder(options.wire(), plan == null ? 1 : plan.fragments().size(), log);
        }
        reregister = false;
    }

    /** Pulls if needed and trains; false when it should wait for a newer version first. */
    private boolean prepare(int round) throws IOException, InterruptedException {
        if (loop != null) {
            loop.overlap();
        }
        if (waitForNewVersion && lastPushedBase >= 0 && latestVersion <= lastPushedBase) {
            Thread.sleep(Math.max(20, Math.min(500, leaseMillis / 10)));
            latestVersion = Math.max(latestVersion, client.heartbeat(workerId).getVersion());
            return false;
        }
        trainingStarted = System.nanoTime();
        if (loop != null && pullFragment()) {
            DiLoCoLoop.Outgoing out = loop.prepare();
            save(out.fragment(), out.baseVersion(), out.result());
            return true;
        }
        WireOptions wire = options.wire();
        CoordinatorClient.Pulled p;
        if (exactPullNext != null) {
            // Once, so that a coordinator that cannot check lossy bases still gets every other update.
            log.accept("pulling the whole f32 model once: the coordinator refused the lossy base (" + exactPullNext + ")");
            exactPullNext = null;
            p = client.pull(workerId, -1, options.workDir(), null, false, null);
        } else {
            // A held model from a lossy pull still gives the layout, but no version delta applies to it.
            p = client.pull(workerId, heldVersion, options.workDir(),
                    wire.pullDeltas() || wire.pullCodec() != null ? held : null, wire.pullDeltas() && heldCodec == null,
                    wire.pullCodec());
        }
        if (p.fallback() != null) {
            log.accept("pulled the whole model v" + p.version() + ": " + p.fallback());
        }
        if (!p.unchanged()) {
            progress.pulled(p.wireBytes());
            SafetensorsFile next = SafetensorsFile.open(p.file());
            closeHeld();
            held = next;
            heldVersion = p.version();
            heldCodec = p.codec();
            heldSha256 = p.sha256();
        }
        latestVersion = Math.max(latestVersion, heldVersion);
        if (waitForNewVersion && heldVersion <= lastPushedBase) {
            Thread.sleep(20);
            return false;
        }
        TensorMap weights = new TensorMap();
        for (String n : held.names()) {
            weights.put(n, held.tensor(n));
        }
        if (innerPlan != null) {
            prepareInnerLoop(weights);
            return true;
        }
        TrainPlan plan = options.plan().steps() > 0
                ? TrainPlan.steps(options.plan().steps(), options.plan().seed() + round)
                : TrainPlan.epochs(options.plan().epochs(), options.plan().seed() + round);
        save(0, heldVersion, trainer.train(weights, plan));
        return true;
    }

    /** DiLoCo: takes the held version into the replica (opened at the first round) and runs up to the push. */
    private void prepareInnerLoop(TensorMap held) throws IOException {
        // The loop keeps the global model until the next merge; the pulled file goes away before that.
        TensorMap global = new TensorMap();
        held.asMap().forEach((n, t) -> global.put(n, t.toF32(Arena.ofAuto())));
        if (loop == null) {
            loop = new DiLoCoLoop(innerPlan, trainer.open(global, innerPlan.optimizer(), options.plan().seed()), global,
                    heldVersion);
        } else if (loop.awaitingMerge() || loop.version() != heldVersion) {
            loop.merge(global, heldVersion);
        }
        DiLoCoLoop.Outgoing out = loop.prepare();
        save(out.fragment(), out.baseVersion(), out.result());
    }

    /**
     * Streaming DiLoCo: after a push of fragment p from the held version v, takes in v+1 from only fragment
     * p's values once the coordinator is there (all that v+1 changed). The model they rebuild is written as
     * the held model and must have v+1's published SHA-256, else the whole model is pulled. False when no
     * fragment pull applies or the coordinator answered otherwise.
     */
    private boolean pullFragment() throws IOException {
        int f = loop.fragmentFor(heldVersion + 1);
        // Fragment values pasted onto a lossy pull's decoding would not rebuild the published model.
        if (f < 0 || latestVersion != heldVersion + 1 || held == null || heldCodec != null) {
            return false;
        }
        java.util.List<dev.tributary.tensor.Fragments.Slice> slices = loop.fragment(f);
        CoordinatorClient.FragmentPull p = client.pullFragment(workerId, heldVersion, f,
                dev.tributary.tensor.Fragments.layout(loop.global().infos(), slices));
        if (p == null) {
            return false;
        }
        progress.pulled(p.wireBytes());
        TensorMap next = dev.tributary.tensor.Fragments.paste(loop.global(), p.values(), slices);
        String digest = java.util.HexFormat.of().formatHex(dev.tributary.tensor.Safetensors.sha256(next));
        if (!digest.equals(p.sha256())) {
            log.accept("fragment " + f + " of v" + p.version() + " rebuilds a model with SHA-256 " + digest + ", published "
                    + p.sha256() + ": pulling the whole model");
            return false;
        }
        Path target = options.workDir().resolve("model-" + p.version() + ".safetensors");
        dev.tributary.tensor.Safetensors.write(target, next);
        loop.mergeFragment(p.values(), p.version());
        SafetensorsFile opened = SafetensorsFile.open(target);
        closeHeld();
        held = opened;
        heldVersion = p.version();
        heldCodec = null;
        heldSha256 = p.sha256();
        latestVersion = Math.max(latestVersion, heldVersion);
        return true;
    }

    private void save(int slot, long base, TrainResult result) throws IOException {
        String id = UUID.randomUUID().toString();
        Path file = options.workDir().resolve("delta-" + id + (options.wire().codec() == null ? ".safetensors" : ".trbc"));
        DeltaEncoder.Encoded e = encoder.encode(slot, base, result.delta(), file);
        boolean lossyBase = heldCodec != null && base == heldVersion;
        pending = new Pending(id, base, result, e.file(), slot, e.codec(), trainingStarted, lossyBase ? heldCodec : null,
                lossyBase ? heldSha256 : null, e.feedback(), e.estimateSha256());
    }

    private void closeLoop() {
        if (loop != null) {
            loop.close();
            loop = null;
        }
    }

    private void dropPending() throws IOException {
        if (pending != null) {
            Files.deleteIfExists(pending.file());
            pending = null;
        }
    }

    private void closeHeld() throws IOException {
        if (held != null) {
            Path old = held.path();
            held.close();
            Files.deleteIfExists(old);
            held = null;
        }
    }

    private void heartbeatLoop() {
        client.heartbeatUntilInterrupted(() -> leaseMillis, () -> reregister ? null : workerId,
                v -> latestVersion = Math.max(latestVersion, v), () -> reregister = true);
    }

    /** Closes the model file and the ack log; a pending update's delta file is removed. */
    @Override
    public void close() throws IOException {
        closeLoop();
        encoder.close();
        closeHeld();
        dropPending();
        if (ackLog != null) {
            ackLog.close();
        }
    }
}
