package dev.tributary.coordinator.service;

import dev.tributary.codec.Codec;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.coordinator.ServiceLimits;
import dev.tributary.coordinator.auth.BearerAuth;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import dev.tributary.tensor.TensorMap;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The receiving side of PushUpdate: each stream is checked as its parts arrive, receives into memory
 * from the budget as its bytes arrive, and is held to the limits: streams per token and per worker, an
 * idle deadline (the next message must come within {@code push_idle_timeout_seconds}) and a total one
 * ({@code push_timeout_seconds} plus its size at {@code push_min_bytes_per_second}). A stream over a limit
 * is cut, its memory returned, and the refusal counted under its reason; every error a push is answered
 * with is counted, internal ones included.
 */
final class Pushes implements AutoCloseable {
    /** What a stream refused for a stream limit is told to wait before it retries. */
    static final long STREAMS_RETRY_MILLIS = 1000;

    private final Sequencer sequencer;
    private final UpdateValidator validator;
    private final PushDecoder decoder;
    private final CoordinatorMetrics metrics;
    private final ReceiveBuffers buffers;
    private final ServiceLimits limits;
    private final Consumer<String> warn;
    private final StreamCounts tokenStreams;
    private final StreamCounts workerStreams;
    private final Set<Receiver> receiving = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService sweeper = Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("tributary-push-deadlines").daemon().unstarted(r));

    Pushes(Sequencer sequencer, UpdateValidator validator, PushDecoder decoder, CoordinatorMetrics metrics,
            ReceiveBuffers buffers, ServiceLimits limits, Consumer<String> warn) {
        this.sequencer = sequencer;
        this.validator = validator;
        this.decoder = decoder;
        this.metrics = metrics;
        this.buffers = buffers;
        this.limits = limits;
        this.warn = warn;
        this.tokenStreams = new StreamCounts(limits.maxPushStreamsPerToken());
        this.workerStreams = new StreamCounts(limits.maxPushStreamsPerWorker());
        long period = Math.clamp(limits.pushIdleTimeout().toMillis() / 4, 10, 1000);
        sweeper.scheduleWithFixedDelay(this::sweep, period, period, TimeUnit.MILLISECONDS);
    }

    ReceiveBuffers buffers() {
        return buffers;
    }

    /** Push streams receiving now (refused, cut and completed ones not counted). */
    int receiving() {
        return receiving.size();
    }

    /** A receiver for a new stream, or one that has refused it already when its token has too many open. */
    StreamObserver<UpdatePart> open(StreamObserver<PushAck> plain) {
        ServerCallStreamObserver<PushAck> out = (ServerCallStreamObserver<PushAck>) plain;
        String token = String.valueOf(BearerAuth.TOKEN.get());
        if (!tokenStreams.tryOpen(token)) {
            out.setOnCancelHandler(() -> {});
            Refusal r = Refusal.retryLater(Status.Code.RESOURCE_EXHAUSTED, "streams", "this token has "
                    + tokenStreams.max() + " push streams open (max_push_streams_per_token): retry later", STREAMS_RETRY_MILLIS);
            metrics.refused(r.reason());
            out.onError(r.toStatus());
            return new Ignored();
        }
        Receiver r = new Receiver(out, token);
        out.setOnCancelHandler(r::cancelled);
        receiving.add(r);
        return r;
    }

    private void sweep() {
        try {
            long now = now();
            for (Receiver r : receiving) {
                r.checkDeadlines(now);
            }
            buffers.trim();
        } catch (RuntimeException e) {
            warn.accept("push deadline check failed: " + describe(e));
        }
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
        buffers.close();
    }

    private static long now() {
        return System.nanoTime() / 1_000_000;
    }

    /** A throwable's message, or its class when it has none. */
    static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + m;
    }

    /** Parts of a stream that was refused at its start. */
    private static final class Ignored implements StreamObserver<UpdatePart> {
        @Override
        public void onNext(UpdatePart value) {}

        @Override
        public void onError(Throwable t) {}

        @Override
        public void onCompleted() {}
    }

    /**
     * Assembles one pushed update, checking each chunk as it arrives. Every method runs under the
     * receiver's lock: the transport, the deadline sweeper and the sequencer's answer all reach it.
     */
    private final class Receiver implements StreamObserver<UpdatePart> {
        private final ServerCallStreamObserver<PushAck> out;
        private final String token;
        private final long opened = now();
        private final CRC32C crc = new CRC32C();
        private long lastMessage = opened;
        private long deadline = opened + limits.pushTimeout().toMillis();
        private UpdateHeader header;
        private Codec codec;
        private boolean ef21;
        private String worker;
        private ReceiveBuffers.Buffer buffer;
        private long received;
        private boolean active = true;
        private boolean countsReleased;

        Receiver(ServerCallStreamObserver<PushAck> out, String token) {
            this.out = out;
            this.token = token;
        }

        @Override
        public synchronized void onNext(UpdatePart part) {
            if (!active) {
                return;
            }
            lastMessage = now();
            try {
                if (part.hasHeader()) {
                    onHeader(part.getHeader());
                } else if (part.hasChunk()) {
                    onChunk(part.getChunk());
                } else {
                    throw Refusal.invalid("malformed", "empty update part");
                }
            } catch (Refusal r) {
                refuse(r);
            } catch (RuntimeException | OutOfMemoryError e) {
                fail(e);
            }
        }

        private void onHeader(UpdateHeader h) {
            if (header != null) {
                throw Refusal.invalid("malformed", "a second update header");
            }
            validator.checkHeader(h);
            codec = decoder.codecOf(h.getCodec());
            ef21 = checkContext(h, codec);
            if (!workerStreams.tryOpen(h.getWorkerId())) {
                throw Refusal.retryLater(Status.Code.RESOURCE_EXHAUSTED, "streams", "worker " + h.getWorkerId() + " has "
                        + workerStreams.max() + " push streams open (max_push_streams_per_worker): retry later",
                        STREAMS_RETRY_MILLIS);
            }
            worker = h.getWorkerId();
            header = h;
            buffer = buffers.open(token, worker, h.getDeltaBytes());
            deadline = opened + limits.pushDeadline(h.getDeltaBytes()).toMillis();
        }

        private void onChunk(Chunk c) {
            if (header == null) {
                throw Refusal.invalid("malformed", "a chunk before the update header");
            }
            ByteString data = c.getData();
            if (c.getOffset() != received) {
                throw Refusal.invalid("malformed", "chunk at offset " + c.getOffset() + ": expected offset " + received);
            }
            if (data.size() > header.getDeltaBytes() - received) {
                throw Refusal.tooLarge("size", "chunk at offset " + c.getOffset() + " of " + data.size()
                        + " bytes runs past delta_bytes " + header.getDeltaBytes());
            }
            MemorySegment memory = buffer.reserve(received + data.size());
            // Copied first, then checked where it landed: CRC32C runs fastest over native memory.
            ByteBuffer landed = memory.asSlice(received, data.size()).asByteBuffer();
            data.copyTo(landed);
            crc.reset();
            crc.update(landed.flip());
            if ((int) crc.getValue() != c.getCrc32C()) {
                throw new Refusal(Status.Code.DATA_LOSS, "crc", "chunk at offset " + c.getOffset() + ": CRC32C mismatch");
            }
            received += data.size();
            metrics.bytesIn(data.size());
        }

        @Override
        public synchronized void onError(Throwable t) {
            cancelled();
        }

        /** The client went away: what it sent is dropped. */
        synchronized void cancelled() {
            if (active) {
                active = false;
                stopReceiving();
            }
        }

        @Override
        public synchronized void onCompleted() {
            if (!active) {
                return;
            }
            try {
                if (header == null) {
                    throw Refusal.invalid("malformed", "no update header");
                }
                if (received != header.getDeltaBytes()) {
                    throw Refusal.invalid("malformed", "received " + received + " of delta_bytes " + header.getDeltaBytes());
                }
                MemorySegment image = buffer.image();
                ReceiveBuffers.Buffer owned = buffer;
                String family = PushDecoder.family(codec);
                String ef21Key = null;
                if (codec != null) {
                    long t0 = System.nanoTime();
                    PushDecoder.Decoded d = decoder.decode(codec, image, token, worker);
                    // One estimate per worker and tensor set (the whole model, or a Streaming DiLoCo fragment).
                    ef21Key = !ef21 ? null : d.layout() == 0 ? worker : worker + "#fragment" + (d.layout() - 1);
                    metrics.decoded(family, System.nanoTime() - t0);
                    // The message is not needed any more: the decoded image is the update from here on.
                    buffer = d.buffer();
                    owned.release();
                    owned = d.buffer();
                    image = d.image();
                }
                metrics.updateBytes(family, received, image.byteSize());
                // An EF21 message is checked once it has become the estimate it leads to, on the sequencer.
                TensorMap delta = ef21 ? PushDecoder.tensors(image) : validator.checkDelta(image);
                UpdateHeader h = header;
                Sequencer.PushContext context = context(h, ef21Key);
                buffer = null;
                active = false;
                owned.handOver();
                stopReceiving();
                try {
                    sequencer.submit(h.getWorkerId(), h.getUpdateId(), h.getBaseVersion(), h.getExamples(), h.getLocalSteps(),
                            h.getMetricsMap(), image, delta, context, owned::release).whenComplete(this::answer);
                } catch (RuntimeException e) {
                    owned.release();
                    throw e;
                }
            } catch (Refusal r) {
                refuse(r);
            } catch (RuntimeException | OutOfMemoryError e) {
                fail(e);
            }
        }

        private synchronized void answer(Sequencer.Ack ack, Throwable error) {
            if (error == null) {
                out.onNext(PushAck.newBuilder().setUpdateId(ack.updateId()).setDuplicate(ack.duplicate())
                        .setVersion(ack.version()).setStaleness(ack.staleness()).build());
                out.onCompleted();
                return;
            }
            Throwable cause = unwrap(error);
            if (cause instanceof Refusal r) {
                metrics.refused(r.reason());
                out.onError(r.toStatus());
            } else if (cause instanceof StatusRuntimeException s) {
                metrics.refused(s.getStatus().getCode().name().toLowerCase(Locale.ROOT));
                out.onError(s);
            } else {
                warn.accept("push of update " + header.getUpdateId() + ": internal error: " + describe(cause));
                metrics.refused("internal");
                out.onError(Status.INTERNAL.withDescription(describe(cause)).asRuntimeException());
            }
        }

        /** Cuts the stream when it has been idle or open for too long. */
        synchronized void checkDeadlines(long now) {
            if (!active) {
                return;
            }
            if (now - lastMessage > limits.pushIdleTimeout().toMillis()) {
                refuse(new Refusal(Status.Code.DEADLINE_EXCEEDED, "idle_timeout", "no message for "
                        + (now - lastMessage) + " ms > push_idle_timeout_seconds " + seconds(limits.pushIdleTimeout().toMillis())
                        + " (" + received + " of " + (header == null ? "?" : header.getDeltaBytes()) + " bytes arrived)"));
            } else if (now > deadline) {
                refuse(new Refusal(Status.Code.DEADLINE_EXCEEDED, "too_slow", "push open for " + (now - opened)
                        + " ms > its deadline of " + (deadline - opened) + " ms (push_timeout_seconds + delta_bytes / "
                        + "push_min_bytes_per_second): " + received + " of "
                        + (header == null ? "?" : header.getDeltaBytes()) + " bytes arrived"));
            }
        }

        private void fail(Throwable e) {
            Refusal r = e instanceof OutOfMemoryError
                    ? Refusal.retryLater(Status.Code.UNAVAILABLE, "busy", "out of memory (" + describe(e) + "): busy, retry later",
                            ReceiveBuffers.BUSY_RETRY_MILLIS)
                    : new Refusal(Status.Code.INTERNAL, "internal", describe(e));
            warn.accept("push " + (header == null ? "" : "of update " + header.getUpdateId() + " ") + "failed: " + describe(e));
            refuse(r);
        }

        private void refuse(Refusal r) {
            active = false;
            stopReceiving();
            metrics.refused(r.reason());
            out.onError(r.toStatus());
        }

        /** Gives back the stream counts, and the memory unless the sequencer took it over. */
        private void stopReceiving() {
            receiving.remove(this);
            if (!countsReleased) {
                countsReleased = true;
                tokenStreams.close(token);
                if (worker != null) {
                    workerStreams.close(worker);
                }
            }
            if (buffer != null) {
                buffer.release();
                buffer = null;
            }
        }
    }

    /**
     * Checks the base and error-feedback fields of a header; true for an EF21 push.
     *
     * @throws Refusal INVALID_ARGUMENT: a base codec without its 32-byte digest or the other way round
     *                 ({@code malformed}), an error feedback other than ef or ef21, or one around no lossy codec
     *                 ({@code error_feedback})
     */
    static boolean checkContext(UpdateHeader h, Codec codec) {
        boolean named = !h.getBaseCodec().isEmpty();
        int sha = h.getBaseDecodedSha256().size();
        if (named != (sha > 0) || (named && sha != 32)) {
            throw Refusal.invalid("malformed", "base_codec \"" + abbreviate(h.getBaseCodec()) + "\" with a base_decoded_sha256"
                    + " of " + sha + " bytes: a lossy base names both, the digest in 32 bytes");
        }
        String feedback = h.getErrorFeedback();
        boolean ef21 = feedback.equals("ef21");
        if (!feedback.isEmpty() && !ef21 && !feedback.equals("ef")) {
            throw Refusal.invalid("error_feedback", "error_feedback \"" + abbreviate(feedback) + "\": must be ef, ef21 or empty");
        }
        if (!feedback.isEmpty() && (codec == null || codec.isLossless())) {
            throw Refusal.invalid("error_feedback", "error_feedback " + feedback + " around "
                    + (codec == null ? "safetensors" : codec.spec()) + ": needs a lossy codec");
        }
        int guard = h.getEf21EstimateSha256().size();
        if (guard != 0 && (!ef21 || guard != 32)) {
            throw Refusal.invalid("malformed", "ef21_estimate_sha256 of " + guard + " bytes"
                    + (ef21 ? ": must be 32 (or empty for h = 0)" : " without error_feedback ef21"));
        }
        return ef21;
    }

    private Sequencer.PushContext context(UpdateHeader h, String ef21Key) {
        if (h.getBaseCodec().isEmpty() && ef21Key == null) {
            return Sequencer.PushContext.NONE;
        }
        return new Sequencer.PushContext(h.getBaseCodec().isEmpty() ? null : h.getBaseCodec(),
                h.getBaseDecodedSha256().toByteArray(), ef21Key, h.getEf21EstimateSha256().toByteArray(), validator::checkDelta);
    }

    private static String abbreviate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "…";
    }

    private static String seconds(long millis) {
        return millis % 1000 == 0 ? Long.toString(millis / 1000) : Double.toString(millis / 1000.0);
    }

    static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
