package dev.tributary.worker.diloco;

import dev.tributary.protocol.RegisterReply;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.client.AckLog;
import dev.tributary.worker.client.Backoff;
import dev.tributary.worker.client.CoordinatorClient;
import dev.tributary.worker.client.GiveUp;
import dev.tributary.worker.client.UnreachableException;
import dev.tributary.worker.client.WorkerOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The NoLoCo worker loop against a coordinator that serves {@code PeerRelay}: register, pull the initial
 * model, then rounds of H inner steps, one exchange and one outer step ({@link NoLoCoWorker}), with a
 * heartbeat keeping the lease. When the coordinator goes away (or restarts and no longer knows the worker)
 * the loop waits with backoff, registers again and sends the same offer again: the round is not trained
 * twice and no outer step is taken without an answer. An exchange counts as done once its answer arrived;
 * the exchange log then gets one line, forced to disk:
 * {@code exchange<TAB>name<TAB>round<TAB>φ sha256<TAB>peer name<TAB>peer round<TAB>peer φ sha256} (the last
 * three {@code -} when unpaired).
 *
 * <p>Call order: construct, {@link #run} once, {@link #close}.
 */
public final class NoLoCoRun implements AutoCloseable {
    /** Refusals of the offer itself: resending it cannot help. */
    private static final Set<Status.Code> FINAL = EnumSet.of(Status.Code.INVALID_ARGUMENT,
            Status.Code.FAILED_PRECONDITION, Status.Code.RESOURCE_EXHAUSTED, Status.Code.OUT_OF_RANGE,
            Status.Code.UNIMPLEMENTED);

    private final Channel channel;
    private final String token;
    private final CoordinatorClient client;
    private final LocalTrainer trainer;
    private final WorkerOptions options;
    private final Consumer<String> log;
    private final Backoff backoff;
    private final AckLog exchangeLog;
    private volatile Consumer<String> onExchanged = s -> { };
    private volatile String workerId;
    private volatile boolean reregister = true;
    private volatile long leaseMillis = 10_000;
    private NoLoCoWorker worker;
    private final GiveUp giveUp;
    private int exchanges;
    private int paired;
    private int retries;
    private double lossSum;
    private long examples;
    private long bytesUp;
    private long bytesDown;
    private final long started = System.nanoTime();

    public NoLoCoRun(Channel channel, String token, LocalTrainer trainer, WorkerOptions options, Consumer<String> log)
            throws IOException {
        this.channel = channel;
        this.giveUp = new GiveUp(channel.authority());
        this.token = token;
        this.client = new CoordinatorClient(channel, token);
        this.trainer = trainer;
        this.options = options;
        this.log = log;
        this.backoff = new Backoff(options.initialBackoff(), options.maxBackoff(), new SplittableRandom(options.seed()));
        this.exchangeLog = options.ackLog() == null ? null : new AckLog(options.ackLog());
        Files.createDirectories(options.workDir());
    }

    /** Tells {@code listener} one progress line per done exchange, on the loop's thread. Call before {@link #run}. */
    public void onExchanged(Consumer<String> listener) {
        onExchanged = java.util.Objects.requireNonNull(listener, "listener");
    }

    /** Gives up with an {@link UnreachableException} once the coordinator has not answered for {@code after}. */
    public void giveUpAfter(Duration after) {
        giveUp.after(after);
    }

    /** Runs until {@code options.updates()} exchanges are done (forever when 0); returns how many. */
    public int run() throws IOException, InterruptedException {
        Thread heartbeat = Thread.ofVirtual().name("tributary-heartbeat").start(this::heartbeatLoop);
        try {
            while (options.updates() == 0 || exchanges < options.updates()) {
                try {
                    if (reregister) {
                        register();
                    }
                    if (worker == null) {
                        open();
                    }
                    long t0 = System.nanoTime();
                    worker.prepare();
                    NoLoCoWorker.Exchanged e = worker.exchangeAndStep();
                    giveUp.answered();
                    backoff.reset();
                    done(e, System.nanoTime() - t0);
                } catch (StatusRuntimeException e) {
                    Status.Code code = e.getStatus().getCode();
                    if (code == Status.Code.UNAUTHENTICATED || code == Status.Code.PERMISSION_DENIED) {
                        throw e;
                    }
                    if (FINAL.contains(code)) {
                        throw new IllegalStateException("the relay refused this worker's outer state: " + describe(e.getStatus()), e);
                    }
                    retries++;
                    if (code == Status.Code.NOT_FOUND) {
                        // The coordinator no longer knows the id (it restarted, or the lease lapsed): register again.
                        reregister = true;
                        continue;
                    }
                    giveUp.failed(e);
                    Duration wait = backoff.next();
                    if (backoff.attempts() == 1 || backoff.attempts() % 10 == 0) {
                        log.accept("coordinator " + channel.authority() + " unavailable (" + describe(e.getStatus())
                                + "); retrying in " + wait.toMillis() + " ms"
                                + (worker != null && worker.offered() ? " with the same offer" : ""));
                    }
                    if (code == Status.Code.UNAVAILABLE || code == Status.Code.DEADLINE_EXCEEDED) {
                        reregister = true;
                    }
                    Thread.sleep(wait);
                }
            }
        } finally {
            heartbeat.interrupt();
        }
        return exchanges;
    }

    private void register() {
        RegisterReply r = client.register(options.name(), options.capabilities());
        if (!r.getStrategy().equals("noloco")) {
            throw new IllegalStateException("coordinator " + channel.authority() + " runs " + r.getStrategy()
                    + ", not noloco: run 'tributary work' without --strategy noloco");
        }
        workerId = r.getWorkerId();
        leaseMillis = r.getLeaseMillis();
        if (worker != null) {
            worker.workerId(workerId);
        }
        reregister = false;
    }

    /** Pulls the initial model and opens the loop with the relay's plan. */
    private void open() throws IOException {
        NoLoCoPlan plan = NoLoCoWorker.plan(channel, token, workerId);
        CoordinatorClient.Pulled p = client.pull(workerId, -1, options.workDir());
        TensorMap initial = new TensorMap();
        try (SafetensorsFile f = SafetensorsFile.open(p.file())) {
            f.names().forEach(n -> initial.put(n, f.tensor(n).toF32(Arena.ofAuto())));
        }
        Files.deleteIfExists(p.file());
        worker = new NoLoCoWorker(workerId, channel, token, plan, trainer, initial, options.seed());
        log.accept("noloco: H " + plan.innerSteps() + " inner steps (" + plan.optimizer().name() + " lr "
                + plan.optimizer().lr() + "), outer lr " + plan.outerLr() + ", momentum " + plan.momentum() + ", peer pull "
                + plan.peerPull() + "; starting from version " + p.version());
    }

    private void done(NoLoCoWorker.Exchanged e, long nanos) throws IOException {
        exchanges++;
        boolean withPeer = e.header().getPaired();
        paired += withPeer ? 1 : 0;
        double loss = e.offer().result().metrics().getOrDefault("loss", Double.NaN);
        if (Double.isFinite(loss)) {
            lossSum += loss;
        }
        examples += e.offer().result().examples();
        bytesUp += e.bytesUp();
        bytesDown += e.bytesDown();
        if (exchangeLog != null) {
            exchangeLog.append(e.header().getExchange() + "\t" + options.name() + "\t" + e.round() + "\t" + e.outerSha256() + "\t"
                    + (withPeer ? e.header().getPeerName() + "\t" + e.header().getPeerRound() + "\t" + e.peerOuterSha256()
                            : "-\t-\t-"));
        }
        onExchanged.accept(String.format(java.util.Locale.ROOT,
                "exchange %d: round %d, loss %s, %d examples, %s up, %s, %.2f s", e.header().getExchange(), e.round(),
                Double.isFinite(loss) ? String.format(java.util.Locale.ROOT, "%.4f", loss) : "n/a",
                e.offer().result().examples(), mib(e.bytesUp()),
                withPeer ? "paired with " + e.header().getPeerName() + " (its round " + e.header().getPeerRound() + "), "
                        + mib(e.bytesDown()) + " down" : "no peer yet: stepped alone", nanos / 1e9));
    }

    /** The totals, for the end of a run (or Ctrl-C). */
    public String summary() {
        return String.format(java.util.Locale.ROOT, "%d exchanges (%d paired, %d alone), %d retries%n"
                + "%d examples, %s up, %s down, mean loss %s, %.1f s", exchanges, paired, exchanges - paired, retries,
                examples, mib(bytesUp), mib(bytesDown),
                exchanges == 0 ? "n/a" : String.format(java.util.Locale.ROOT, "%.4f", lossSum / exchanges),
                (System.nanoTime() - started) / 1e9);
    }

    private static String mib(long n) {
        return n < 1 << 20 ? String.format(java.util.Locale.ROOT, "%.1f KiB", n / 1024.0)
                : String.format(java.util.Locale.ROOT, "%.2f MiB", n / (double) (1 << 20));
    }

    private static String describe(Status s) {
        return GiveUp.describe(s);
    }

    private void heartbeatLoop() {
        client.heartbeatUntilInterrupted(() -> leaseMillis, () -> reregister ? null : workerId, v -> { }, () -> reregister = true);
    }

    @Override
    public void close() throws IOException {
        if (worker != null) {
            worker.close();
        }
        if (exchangeLog != null) {
            exchangeLog.close();
        }
    }
}
