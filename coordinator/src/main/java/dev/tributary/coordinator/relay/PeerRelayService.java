package dev.tributary.coordinator.relay;

import com.google.protobuf.ByteString;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.ServiceLimits;
import dev.tributary.coordinator.auth.BearerAuth;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.service.InnerLoops;
import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.NoLoCoPlan;
import dev.tributary.protocol.NoLoCoPlanRequest;
import dev.tributary.protocol.OuterState;
import dev.tributary.protocol.OuterStateHeader;
import dev.tributary.protocol.OuterStatePart;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerState;
import dev.tributary.protocol.PeerStateHeader;
import dev.tributary.protocol.PeerStatePart;
import dev.tributary.tensor.Safetensors;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The {@code PeerRelay} service: takes a worker's outer state (φ, δ), checks it against the model, makes it
 * durable as that worker's held state ({@link HeldStates}), draws a peer among the other held states
 * ({@link NoLoCoRelay#draw}) and answers with the peer's. {@code ExchangeStream} carries states of any size
 * in chunks (CRC32C each, SHA-256 per image), received into a file of the announced size once the sizes
 * are checked against the model's; the deprecated unary {@code Exchange} goes the same way, within one
 * message.
 *
 * <p>Bounds against a hostile client: the caller must be a registered worker ({@link Members}); each image
 * is at most the model's safetensors size plus {@link #HEADER_SLACK}; one exchange in flight per worker
 * and {@link #MAX_RECEIVING} in all; a stream is cut after {@code push_idle_timeout_seconds} without a
 * message or past {@link ServiceLimits#pushDeadline}; a held state goes once its worker's lease lapses
 * ({@link #sweep}). Every refusal is a status whose description names the rule, counted in
 * {@code tributary_relay_refused_total{reason}}.
 */
public final class PeerRelayService extends PeerRelayGrpc.PeerRelayImplBase {
    private static final int MAX_WORKER_ID = 256;
    /** States being received at once, over every worker. */
    public static final int MAX_RECEIVING = 8;
    /** What a state's safetensors header may take beyond the model's own image's. */
    public static final long HEADER_SLACK = 64 << 10;
    /** Largest answer the unary Exchange sends (the message limit, less framing). */
    static final long UNARY_ANSWER_BYTES = (8 << 20) - (64 << 10);
    private static final long RETRY_MILLIS = 500;

    private final NoLoCoRelay relay;
    private final HeldStates states;
    private final Members members;
    private final ServiceLimits limits;
    private final long maxStateBytes;
    private final CoordinatorMetrics metrics;
    private final Counter exchanged;
    private final Counter paired;
    private final Counter bytesIn;
    private final Counter bytesOut;
    private final Set<String> receivingWorkers = ConcurrentHashMap.newKeySet();
    private final Set<Receive> open = ConcurrentHashMap.newKeySet();
    /** Under {@code matching: pairs}: committed exchanges waiting for their partners, by worker id. */
    private final TreeMap<String, Parked> parked = new TreeMap<>();

    /**
     * A committed exchange waiting to be matched.
     *
     * @param cancelled whether the caller went away (its answer is then dropped)
     */
    private record Parked(String worker, String name, long exchange, long sinceMillis, Answerer answerer,
            Consumer<Throwable> fail, java.util.function.BooleanSupplier cancelled) {}

    private PeerRelayService(NoLoCoRelay relay, HeldStates states, Members members, ServiceLimits limits,
            CoordinatorMetrics metrics) {
        this.relay = relay;
        this.states = states;
        this.members = members;
        this.limits = limits;
        this.metrics = metrics;
        this.maxStateBytes = Safetensors.encodedSize(relay.model(), Map.of()) + HEADER_SLACK;
        this.exchanged = metrics.counter("tributary.relay.exchanges", null, "NoLoCo exchanges answered");
        this.paired = metrics.counter("tributary.relay.paired", null, "NoLoCo exchanges answered with a peer's state");
        this.bytesIn = metrics.counter("tributary.relay.received", "bytes", "outer-state bytes received (chunk payloads)");
        this.bytesOut = metrics.counter("tributary.relay.sent", "bytes", "outer-state bytes sent (chunk payloads)");
        refusedCounter("size");
        if (relay.pairs()) {
            metrics.gauge("tributary.relay.waiting", "NoLoCo exchanges committed and waiting for a partner (matching: pairs)",
                    this::waiting);
        }
    }

    /**
     * A relay over the held states in {@code dir} (restored ones kept one {@code lease} from now, so their
     * workers can register again).
     *
     * @param warn where a damaged held state is reported
     */
    public static PeerRelayService open(Path dir, NoLoCoRelay relay, Members members, ServiceLimits limits, Duration lease,
            CoordinatorMetrics metrics, Consumer<String> warn) throws IOException {
        HeldStates states = HeldStates.open(dir, relay, System.currentTimeMillis() + lease.toMillis(), warn);
        return new PeerRelayService(relay, states, members, limits, metrics);
    }

    /** {@code service} behind the coordinator's bearer-token check, ready for a server builder. */
    public static ServerServiceDefinition authenticated(PeerRelayService service, Tokens tokens, Runnable onRefused) {
        return ServerInterceptors.intercept(service, new BearerAuth(tokens, onRefused));
    }

    /** Under {@code matching: pairs}: exchanges committed and waiting for a partner. */
    public int waiting() {
        synchronized (parked) {
            return parked.size();
        }
    }

    /**
     * Parks a committed exchange; when every worker with a held state and a live registration now waits,
     * matches them all.
     */
    private void park(Parked p) {
        List<Parked> due;
        synchronized (parked) {
            parked.values().removeIf(q -> q.cancelled().getAsBoolean());
            parked.put(p.worker(), p);
            due = parked.size() >= states.live(id -> members.liveName(id) != null) ? takeParked() : List.of();
        }
        answerMatched(due);
    }

    /** Empties the parked exchanges, shuffled (as {@link NoLoCoRelay#shuffle} orders them), in pairs. */
    private List<Parked> takeParked() {
        List<Parked> all = new java.util.ArrayList<>(parked.values());
        parked.clear();
        relay.shuffle(all, all.stream().mapToLong(Parked::exchange).max().orElse(0));
        return all;
    }

    /**
     * Answers matched exchanges, outside any lock: consecutive ones as pairs, each with the other's held
     * state (the one it committed for this exchange, unless it has exchanged again since); an odd one out
     * with a drawn other worker's, as under {@code matching: latest}.
     */
    private void answerMatched(List<Parked> matched) {
        for (int i = 0; i < matched.size(); i++) {
            Parked me = matched.get(i);
            int partner = NoLoCoRelay.partner(i, matched.size());
            HeldStates.Opened peer = null;
            try {
                peer = partner < 0 ? states.drawOther(me.worker(), me.name(), me.exchange())
                        : states.open(matched.get(partner).worker());
                exchanged.increment();
                if (peer != null) {
                    paired.increment();
                }
                me.answerer().answer(new HeldStates.Commit(me.exchange(), peer == null ? null : peer.held(),
                        peer == null ? null : peer.file()));
            } catch (IOException | RuntimeException e) {
                if (peer != null) {
                    closeQuietly(peer.file());
                }
                countRefused(CoordinatorMetrics.INTERNAL);
                me.fail().accept(Status.UNAVAILABLE.withDescription("relay could not answer the exchange: " + e.getMessage())
                        .asRuntimeException());
            }
        }
    }

    private static void closeQuietly(FileChannel f) {
        try {
            f.close();
        } catch (IOException ignored) {
            // read-only
        }
    }

    /** Exchanges answered, across restarts. */
    public long exchanges() {
        return states.exchanges();
    }

    /** Outer states held now (at most one per worker). */
    public int held() {
        return states.size();
    }

    /** Largest image (φ or δ) a state may have, in bytes. */
    public long maxStateBytes() {
        return maxStateBytes;
    }

    /** Refusals so far under {@code reason}. */
    public long refused(String reason) {
        return (long) refusedCounter(reason).count();
    }

    /**
     * Cuts streams that stalled or ran past their deadline and drops the held states of workers whose lease
     * lapsed; the coordinator's ticker calls it.
     */
    public void sweep(long nowMillis) {
        for (Receive r : open) {
            r.checkDeadlines(nowMillis);
        }
        if (relay.pairs()) {
            List<Parked> due;
            synchronized (parked) {
                parked.values().removeIf(p -> p.cancelled().getAsBoolean());
                long oldest = parked.values().stream().mapToLong(Parked::sinceMillis).min().orElse(Long.MAX_VALUE);
                due = oldest != Long.MAX_VALUE && nowMillis - oldest >= (long) (relay.matchWaitSeconds() * 1000)
                        ? takeParked() : List.of();
            }
            answerMatched(due);
        }
        try {
            states.evict(id -> members.liveName(id) != null, nowMillis);
        } catch (IOException e) {
            // retried at the next sweep; a state left behind is only kept longer
        }
    }

    @Override
    public void plan(NoLoCoPlanRequest request, StreamObserver<NoLoCoPlan> out) {
        out.onNext(NoLoCoPlan.newBuilder().setInner(InnerLoops.toProto(relay.innerLoop()))
                .setMomentum(relay.momentum()).setOuterLr(relay.outerLr()).setPeerPull(relay.peerPull()).build());
        out.onCompleted();
    }

    @Override
    public StreamObserver<OuterStatePart> exchangeStream(StreamObserver<PeerStatePart> plain) {
        ServerCallStreamObserver<PeerStatePart> out = (ServerCallStreamObserver<PeerStatePart>) plain;
        StateSender sender = new StateSender(out, bytesOut::increment);
        return new Receive(out::onError, out::isCancelled, c -> {
            Answer a = answerHeader(c);
            sender.send(a.header(), c.peerFile(), a.bytes());
        });
    }

    /** Deprecated: the same exchange within one message each way (states up to about 4 MiB of f32). */
    @Override
    public void exchange(OuterState request, StreamObserver<PeerState> out) {
        long modelState = 2 * (maxStateBytes - HEADER_SLACK);
        if (modelState > UNARY_ANSWER_BYTES) {
            Refusal too = Refusal.tooLarge("size", "this model's outer states take " + modelState
                    + " bytes, more than one message carries: use ExchangeStream");
            countRefused(too.reason());
            out.onError(too.toStatus());
            return;
        }
        java.util.function.BooleanSupplier cancelled = out instanceof ServerCallStreamObserver<PeerState> call
                ? call::isCancelled : () -> false;
        Receive r = new Receive(out::onError, cancelled, c -> {
            PeerState.Builder b = PeerState.newBuilder().setExchange(c.exchange());
            try (FileChannel f = c.peerFile()) {
                HeldStates.Held p = c.peer();
                if (p != null) {
                    if (p.outerBytes() + p.gradientBytes() > UNARY_ANSWER_BYTES) {
                        Refusal too = Refusal.tooLarge("size", "the peer's state of " + (p.outerBytes() + p.gradientBytes())
                                + " bytes is more than one message takes: use ExchangeStream");
                        countRefused(too.reason());
                        out.onError(too.toStatus());
                        return;
                    }
                    ByteBuffer all = ByteBuffer.allocate((int) (p.outerBytes() + p.gradientBytes()));
                    while (all.hasRemaining() && f.read(all, all.position()) >= 0) {
                        // reads until full
                    }
                    all.flip();
                    b.setPaired(true).setPeerId(p.worker()).setPeerRound(p.round())
                            .setOuter(ByteString.copyFrom(all.slice(0, (int) p.outerBytes())))
                            .setOuterGradient(ByteString.copyFrom(all.slice((int) p.outerBytes(), (int) p.gradientBytes())));
                    bytesOut.increment(all.limit());
                }
            } catch (IOException e) {
                out.onError(Status.UNAVAILABLE.withDescription("relay could not read the peer's state: " + e.getMessage())
                        .asRuntimeException());
                return;
            }
            out.onNext(b.build());
            out.onCompleted();
        });
        ByteString o = request.getOuter();
        ByteString g = request.getOuterGradient();
        r.onNext(OuterStatePart.newBuilder().setHeader(OuterStateHeader.newBuilder().setWorkerId(request.getWorkerId())
                .setRound(request.getRound()).setExamples(request.getExamples()).setOuterBytes(o.size())
                .setOuterGradientBytes(g.size())
                .setOuterSha256(ByteString.copyFrom(dev.tributary.store.ModelImage.sha256(java.lang.foreign.MemorySegment.ofBuffer(o.asReadOnlyByteBuffer()))))
                .setOuterGradientSha256(ByteString.copyFrom(dev.tributary.store.ModelImage.sha256(
                        java.lang.foreign.MemorySegment.ofBuffer(g.asReadOnlyByteBuffer()))))).build());
        r.onNext(chunk(0, o));
        r.onNext(chunk(o.size(), g));
        r.onCompleted();
    }

    private static OuterStatePart chunk(long offset, ByteString data) {
        CRC32C crc = new CRC32C();
        crc.update(data.asReadOnlyByteBuffer());
        return OuterStatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(offset).setData(data)
                .setCrc32C((int) crc.getValue())).build();
    }

    private Answer answerHeader(HeldStates.Commit c) {
        PeerStateHeader.Builder h = PeerStateHeader.newBuilder().setExchange(c.exchange());
        HeldStates.Held p = c.peer();
        if (p == null) {
            return new Answer(h.build(), 0);
        }
        h.setPaired(true).setPeerId(p.worker()).setPeerName(p.name()).setPeerRound(p.round())
                .setOuterBytes(p.outerBytes()).setOuterGradientBytes(p.gradientBytes())
                .setOuterSha256(ByteString.copyFrom(p.outerSha256()))
                .setOuterGradientSha256(ByteString.copyFrom(p.gradientSha256()));
        return new Answer(h.build(), p.outerBytes() + p.gradientBytes());
    }

    /** An answer's header and the bytes that follow it. */
    private record Answer(PeerStateHeader header, long bytes) {}

    private Counter refusedCounter(String reason) {
        return metrics.counter("tributary.relay.refused", null, "NoLoCo outer states refused, by reason", "reason", reason);
    }

    private void countRefused(String reason) {
        refusedCounter(reason).increment();
    }

    /** How an accepted state is answered. */
    @FunctionalInterface
    private interface Answerer {
        void answer(HeldStates.Commit c) throws IOException;
    }

    /** One exchange being received: header, chunks into a part file, end; then checked, committed, answered. */
    private final class Receive implements StreamObserver<OuterStatePart> {
        private final Consumer<Throwable> fail;
        private final java.util.function.BooleanSupplier cancelled;
        private final Answerer answerer;
        private final long opened = System.currentTimeMillis();
        private long lastMessage = opened;
        private long deadline = Long.MAX_VALUE;
        private OuterStateHeader header;
        private String name;
        private StateFile file;
        private boolean done;

        Receive(Consumer<Throwable> fail, java.util.function.BooleanSupplier cancelled, Answerer answerer) {
            this.fail = fail;
            this.cancelled = cancelled;
            this.answerer = answerer;
        }

        @Override
        public synchronized void onNext(OuterStatePart part) {
            if (done) {
                return;
            }
            lastMessage = System.currentTimeMillis();
            try {
                if (part.hasHeader()) {
                    if (header != null) {
                        throw Refusal.invalid("malformed", "a second header in one exchange");
                    }
                    start(part.getHeader());
                } else if (part.hasChunk()) {
                    if (header == null) {
                        throw Refusal.invalid("malformed", "a chunk before the header");
                    }
                    bytesIn.increment(file.append(part.getChunk()));
                } else {
                    throw Refusal.invalid("malformed", "a part with neither header nor chunk");
                }
            } catch (Refusal r) {
                refuse(r);
            } catch (IOException e) {
                abort(Status.UNAVAILABLE.withDescription("relay could not store the state: " + e.getMessage()));
            }
        }

        private void start(OuterStateHeader h) throws IOException {
            String id = h.getWorkerId();
            if (id.isEmpty() || id.length() > MAX_WORKER_ID) {
                throw Refusal.invalid("malformed", "worker_id: must be 1 to " + MAX_WORKER_ID + " characters, got " + id.length());
            }
            if (h.getRound() < 0) {
                throw Refusal.invalid("malformed", "round < 0: " + h.getRound());
            }
            name = members.liveName(id);
            if (name == null) {
                throw new Refusal(Status.Code.NOT_FOUND, "not_registered", "worker " + id
                        + " is not registered (or its lease ran out): register again");
            }
            size("outer_bytes", h.getOuterBytes());
            size("outer_gradient_bytes", h.getOuterGradientBytes());
            sha("outer_sha256", h.getOuterSha256());
            sha("outer_gradient_sha256", h.getOuterGradientSha256());
            if (!receivingWorkers.add(id)) {
                throw Refusal.retryLater(Status.Code.UNAVAILABLE, "busy", "worker " + id
                        + " has an exchange in flight already", RETRY_MILLIS);
            }
            header = h;
            if (open.size() >= MAX_RECEIVING) {
                throw Refusal.retryLater(Status.Code.UNAVAILABLE, "busy", MAX_RECEIVING
                        + " outer states are being received: retry later", RETRY_MILLIS);
            }
            open.add(this);
            long total = h.getOuterBytes() + h.getOuterGradientBytes();
            deadline = opened + limits.pushDeadline(total).toMillis();
            file = StateFile.create(states.partFile(id), total);
        }

        private void size(String field, long n) {
            if (n < 1) {
                throw Refusal.invalid("malformed", field + " " + n + ": a state needs both images");
            }
            if (n > maxStateBytes) {
                throw Refusal.tooLarge("size", field + " " + n + ": must be 1 to " + maxStateBytes
                        + " (the model's safetensors image and " + HEADER_SLACK + " bytes of header)");
            }
        }

        private static void sha(String field, ByteString b) {
            if (b.size() != 32) {
                throw Refusal.invalid("malformed", field + ": must be 32 bytes, got " + b.size());
            }
        }

        @Override
        public synchronized void onCompleted() {
            if (done) {
                return;
            }
            try {
                if (header == null) {
                    throw Refusal.invalid("malformed", "the stream ended before its header");
                }
                HeldStates.Commit c;
                try {
                    file.check(header, relay);
                    c = states.commit(header.getWorkerId(), name, header.getRound(), file.path(), header.getOuterBytes(),
                            header.getOuterGradientBytes(), header.getOuterSha256().toByteArray(),
                            header.getOuterGradientSha256().toByteArray(), id -> members.liveName(id) != null,
                            !relay.pairs());
                } finally {
                    finish();
                }
                if (relay.pairs()) {
                    park(new Parked(header.getWorkerId(), name, c.exchange(), System.currentTimeMillis(), answerer, fail,
                            cancelled));
                    return;
                }
                exchanged.increment();
                if (c.peer() != null) {
                    paired.increment();
                }
                answerer.answer(c);
            } catch (Refusal r) {
                refuse(r);
            } catch (IOException e) {
                abort(Status.UNAVAILABLE.withDescription("relay could not store the state: " + e.getMessage()));
            }
        }

        @Override
        public synchronized void onError(Throwable t) {
            finish(); // the client went away: nothing was acknowledged
        }

        synchronized void checkDeadlines(long now) {
            if (done || header == null) {
                return;
            }
            if (now - lastMessage > limits.pushIdleTimeout().toMillis()) {
                refuse(new Refusal(Status.Code.DEADLINE_EXCEEDED, "idle_timeout", "no message for " + (now - lastMessage)
                        + " ms > push_idle_timeout_seconds " + limits.pushIdleTimeout().toSeconds()));
            } else if (now > deadline) {
                refuse(new Refusal(Status.Code.DEADLINE_EXCEEDED, "timeout", "outer state not received within "
                        + (deadline - opened) + " ms (push_timeout_seconds and push_min_bytes_per_second)"));
            }
        }

        private void refuse(Refusal r) {
            countRefused(r.reason());
            done = true;
            finish();
            fail.accept(r.toStatus());
        }

        private void abort(Status s) {
            countRefused(CoordinatorMetrics.INTERNAL);
            done = true;
            finish();
            fail.accept(s.asRuntimeException());
        }

        /** Frees the worker's slot and removes what was not committed. */
        private void finish() {
            done = true;
            open.remove(this);
            if (header != null) {
                receivingWorkers.remove(header.getWorkerId());
            }
            if (file != null) {
                file.discard();
                file = null;
            }
        }
    }
}
