package dev.tributary.worker.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.HeartbeatReply;
import dev.tributary.protocol.HeartbeatRequest;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.ReadySender;
import dev.tributary.protocol.RegisterReply;
import dev.tributary.protocol.RegisterRequest;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.codec.Codec;
import dev.tributary.codec.VersionDelta;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.zip.CRC32C;

/**
 * The worker's side of the protocol, one call per method, no retries (the {@link Worker} loop retries).
 * Every call carries the bearer token. Models are received into files and checked chunk by chunk
 * (CRC32C) and as a whole (SHA-256); deltas are sent from files in chunks with their CRC32C.
 */
public final class CoordinatorClient {
    /** Chunk size of pushed deltas: with its framing under the 4 MiB gRPC parses from one buffer. */
    public static final int CHUNK_BYTES = 2 << 20;
    private static final int MAX_MESSAGE_BYTES = 8 << 20;

    private final CoordinatorGrpc.CoordinatorBlockingStub blocking;
    private final CoordinatorGrpc.CoordinatorStub async;
    private final Channel channel;
    private final CallOptions pullOptions;

    public CoordinatorClient(Channel channel, String token) {
        BearerToken credentials = new BearerToken(token);
        this.channel = channel;
        this.pullOptions = CallOptions.DEFAULT.withCallCredentials(credentials).withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
        this.blocking = CoordinatorGrpc.newBlockingStub(channel).withCallCredentials(credentials)
                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
        this.async = CoordinatorGrpc.newStub(channel).withCallCredentials(credentials)
                .withMaxInboundMessageSize(MAX_MESSAGE_BYTES);
    }

    public RegisterReply register(String name, Capabilities capabilities) {
        return blocking.register(RegisterRequest.newBuilder().setName(name).setCapabilities(capabilities).build());
    }

    /** Renews the lease; NOT_FOUND when the coordinator no longer knows {@code workerId}. */
    public HeartbeatReply heartbeat(String workerId) {
        return blocking.heartbeat(HeartbeatRequest.newBuilder().setWorkerId(workerId).build());
    }

    /**
     * Heartbeats until the thread is interrupted, every third of {@code leaseMillis}: for {@code workerId}
     * while it gives an id (null pauses, e.g. while re-registering), telling {@code version} the latest
     * published version of each reply, and {@code lost} when the coordinator no longer knows the worker
     * (its lease lapsed or the coordinator restarted), so that the caller registers again. Other errors
     * are left to the next beat.
     */
    public void heartbeatUntilInterrupted(java.util.function.LongSupplier leaseMillis,
            java.util.function.Supplier<String> workerId, java.util.function.LongConsumer version, Runnable lost) {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(Math.max(50, leaseMillis.getAsLong() / 3));
                String id = workerId.get();
                if (id != null) {
                    version.accept(heartbeat(id).getVersion());
                }
            } catch (InterruptedException e) {
                return;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.NOT_FOUND) {
                    lost.run();
                }
            }
        }
    }

    /**
     * A pulled model.
     *
     * @param file      the model's safetensors file, or null when the known version was current
     * @param wireBytes chunk bytes that came over the wire for it (a version delta's, or the whole model's)
     * @param delta     true when it was rebuilt from a version delta and the SHA-256 matched
     * @param fallback  why a version delta (or a lossy pull) was not used and the whole model pulled instead, or null
     * @param codec     the codec the file was decoded from (a lossy pull: the file holds the decoded weights,
     *                  {@code sha256} is their image's), or null when the file is the exact version
     */
    public record Pulled(long version, String sha256, long bytes, Path file, long wireBytes, boolean delta, String fallback,
            String codec) {
        public Pulled(long version, String sha256, long bytes, Path file) {
            this(version, sha256, bytes, file, file == null ? 0 : bytes, false, null, null);
        }

        public Pulled(long version, String sha256, long bytes, Path file, long wireBytes, boolean delta, String fallback) {
            this(version, sha256, bytes, file, wireBytes, delta, fallback, null);
        }

        public boolean unchanged() {
            return file == null;
        }
    }

    /**
     * Pulls the current model into {@code dir/model-<version>.safetensors} unless {@code knownVersion} is
     * current. A chunk out of order, a CRC32C or SHA-256 mismatch, or a short stream fails with DATA_LOSS
     * and leaves no file behind.
     */
    public Pulled pull(String workerId, long knownVersion, Path dir) throws IOException {
        return pull(workerId, knownVersion, dir, null);
    }

    /**
     * {@link #pull(String, long, Path)}, asking for only what changed since {@code knownVersion} when
     * {@code known} (the tensors of that version, exactly as pulled) is given: a version delta is applied to
     * it and the result checked against the published SHA-256; when that fails (the held bytes are not the
     * version's, the delta is damaged) the whole model is pulled again and {@link Pulled#fallback} says why.
     */
    public Pulled pull(String workerId, long knownVersion, Path dir, TensorSource known) throws IOException {
        return pull(workerId, knownVersion, dir, known, true, null);
    }

    /**
     * {@link #pull(String, long, Path, TensorSource)}, asking for the model coded by {@code pullCodec} when
     * it is given. A coded answer is checked against its SHA-256, decoded (within limits from the layout
     * of {@code known} when given, else from the declared decoded size), written as an f32 safetensors
     * file and checked against the decoded image's SHA-256; when any check fails the whole model is pulled
     * again and {@link Pulled#fallback} says why. A coordinator that does not accept the codec answers
     * with the whole model ({@link Pulled#codec} is then null). A version delta is asked for only when
     * {@code knownExact} says {@code known} holds exactly the version's weights (not a lossy pull's).
     */
    public Pulled pull(String workerId, long knownVersion, Path dir, TensorSource known, boolean knownExact, Codec pullCodec)
            throws IOException {
        PullRequest request = PullRequest.newBuilder().setWorkerId(workerId).setKnownVersion(knownVersion)
                .setAcceptVersionDelta(known != null && knownExact && knownVersion >= 0)
                .setPullCodec(pullCodec == null ? "" : pullCodec.spec()).build();
        try (ModelStream parts = ModelStream.open(channel, pullOptions, request)) {
            return pull(workerId, knownVersion, dir, known, pullCodec, parts);
        }
    }

    private Pulled pull(String workerId, long knownVersion, Path dir, TensorSource known, Codec pullCodec, ModelStream parts)
            throws IOException {
        if (!parts.hasNext()) {
            throw dataLoss("the model stream ended before its header");
        }
        ModelHeader h = parts.next().getHeader();
        if (h.getUnchanged()) {
            drain(parts);
            return new Pulled(h.getVersion(), hex(h.getSha256()), h.getTotalBytes(), null);
        }
        Files.createDirectories(dir);
        Path target = dir.resolve("model-" + h.getVersion() + ".safetensors");
        Path part = dir.resolve(target.getFileName() + ".part");
        if (!h.getCodec().isEmpty()) {
            String problem = applyCoded(h, parts, known, pullCodec, part);
            if (problem == null) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                return new Pulled(h.getVersion(), hex(h.getDecodedSha256()), h.getDecodedBytes(), target, h.getCodedBytes(),
                        false, null, h.getCodec());
            }
            Files.deleteIfExists(part);
            Pulled full = pull(workerId, -1, dir, null, true, null);
            return new Pulled(full.version(), full.sha256(), full.bytes(), full.file(), h.getCodedBytes() + full.wireBytes(),
                    false, problem, null);
        }
        if (h.getVersionDelta()) {
            String problem = applyDelta(h, parts, known, knownVersion, part);
            if (problem == null) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                return new Pulled(h.getVersion(), hex(h.getSha256()), h.getTotalBytes(), target, h.getDeltaBytes(), true, null);
            }
            Files.deleteIfExists(part);
            Pulled full = pull(workerId, -1, dir, null);
            return new Pulled(full.version(), full.sha256(), full.bytes(), full.file(), h.getDeltaBytes() + full.wireBytes(),
                    false, problem);
        }
        // The whole-model SHA-256 runs on its own thread beside the CRC32C checks and the file writes.
        PipelinedDigest sha = new PipelinedDigest();
        long at = 0;
        try (FileChannel out = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            at = receiveLent(parts, out, sha, h.getTotalBytes());
        } catch (IOException | RuntimeException e) {
            sha.close();
            Files.deleteIfExists(part);
            throw e;
        }
        String digest = HexFormat.of().formatHex(sha.digest());
        if (at != h.getTotalBytes() || !digest.equals(hex(h.getSha256()))) {
            Files.deleteIfExists(part);
            throw dataLoss("model version " + h.getVersion() + ": received " + at + " of " + h.getTotalBytes()
                    + " bytes with SHA-256 " + digest + ", expected " + hex(h.getSha256()));
        }
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return new Pulled(h.getVersion(), digest, at, target);
    }

    /** Where received chunk data goes: {@code data[0, n)}, valid during the call only. */
    @FunctionalInterface
    private interface ChunkSink {
        void accept(byte[] data, int n) throws IOException;
    }

    /**
     * Receives the whole model's chunks in order into {@code out}, checking offsets and CRC32C, and hands
     * each chunk to {@code sha}; returns the bytes received. The chunk bytes are never copied here: they are
     * checked, written and digested where the transport received them, and released once digested. A chunk
     * that would run past the {@code total} bytes the header declared is refused before anything of it is
     * written, so a coordinator cannot fill the disk past the model's size.
     */
    private static long receiveLent(ModelStream parts, FileChannel out, PipelinedDigest sha, long total) throws IOException {
        CRC32C crc = new CRC32C();
        long at = 0;
        while (parts.hasNext()) {
            ModelStream.Received r = parts.take();
            boolean handedOver = false;
            try {
                ByteString data = checked(r.part().getChunk(), at, crc);
                if (data.size() > total - at) {
                    throw dataLoss("model chunk at offset " + at + " of " + data.size() + " bytes runs past the "
                            + total + " bytes the header declared");
                }
                ByteBuffer[] pieces = data.asReadOnlyByteBufferList().toArray(ByteBuffer[]::new);
                for (long left = data.size(); left > 0; ) {
                    left -= out.write(pieces);
                }
                handedOver = true; // from here on the digest releases the chunk, also when it fails
                sha.update(data, r::close);
                at += data.size();
            } finally {
                if (!handedOver) {
                    r.close();
                }
            }
        }
        return at;
    }

    /**
     * {@code c}'s data once its offset is {@code at} and its CRC32C matches (computed where the bytes lie,
     * without copying them); DATA_LOSS naming the offset otherwise.
     */
    private static ByteString checked(Chunk c, long at, CRC32C crc) {
        if (c.getOffset() != at) {
            throw dataLoss("model chunk at offset " + c.getOffset() + ": expected offset " + at);
        }
        crc.reset();
        for (ByteBuffer b : c.getData().asReadOnlyByteBufferList()) {
            crc.update(b);
        }
        if ((int) crc.getValue() != c.getCrc32C()) {
            throw dataLoss("model chunk at offset " + at + ": CRC32C mismatch");
        }
        return c.getData();
    }

    /** Receives the chunks in order, checking offsets and CRC32C; returns the bytes received. */
    private static long receive(Iterator<ModelPart> parts, ChunkSink sink) throws IOException {
        CRC32C crc = new CRC32C();
        long at = 0;
        byte[] scratch = new byte[0];
        while (parts.hasNext()) {
            ByteString data = checked(parts.next().getChunk(), at, crc);
            int n = data.size();
            if (scratch.length < n) {
                scratch = new byte[n];
            }
            data.copyTo(scratch, 0); // the sinks take arrays
            sink.accept(scratch, n);
            at += n;
        }
        return at;
    }

    /**
     * Receives a coded model, checks it, decodes it and writes the decoded weights to {@code part}; null
     * when both digests and sizes match, else why not (the stream is drained either way).
     */
    private static String applyCoded(ModelHeader h, Iterator<ModelPart> parts, TensorSource known, Codec asked, Path part)
            throws IOException {
        Codec codec;
        try {
            codec = Codec.parse(h.getCodec());
        } catch (IllegalArgumentException e) {
            drain(parts);
            return "model coded by " + h.getCodec() + ", which this worker does not read";
        }
        if (asked == null || !codec.spec().equals(asked.spec())) {
            drain(parts);
            return "model coded by " + codec.spec() + ", asked for " + (asked == null ? "f32" : asked.spec());
        }
        DecodeLimits limits = known != null ? DecodeLimits.forLayout(known.infos()) : DecodeLimits.of(Math.max(0, h.getDecodedBytes()));
        long max = Math.min(limits.maxEncodedBytes(), Integer.MAX_VALUE - 16);
        if (h.getCodedBytes() < 0 || h.getCodedBytes() > max) {
            drain(parts);
            return "coded model of " + h.getCodedBytes() + " bytes: more than " + max + " for this model";
        }
        byte[] bytes = new byte[(int) h.getCodedBytes()];
        long[] at = {0};
        long got = receive(parts, (data, n) -> {
            if (at[0] + n > bytes.length) {
                throw dataLoss("coded model runs past its coded_bytes " + bytes.length);
            }
            System.arraycopy(data, 0, bytes, (int) at[0], n);
            at[0] += n;
        });
        if (got != bytes.length) {
            throw dataLoss("coded model: received " + got + " of " + bytes.length + " bytes");
        }
        String coded = HexFormat.of().formatHex(sha256().digest(bytes));
        if (!coded.equals(hex(h.getCodedSha256()))) {
            return "coded model v" + h.getVersion() + " has SHA-256 " + coded + ", published " + hex(h.getCodedSha256());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment message = MemorySegment.ofArray(bytes);
            TensorMap decoded;
            try {
                decoded = codec.decode(message, known != null ? known.infos() : Codec.layoutOf(message, limits), limits, arena);
            } catch (CodecException e) {
                return "coded model v" + h.getVersion() + " refused: " + e.getMessage();
            }
            Safetensors.write(part, decoded);
        }
        String digest = fileSha256(part);
        long size = Files.size(part);
        if (size != h.getDecodedBytes() || !digest.equals(hex(h.getDecodedSha256()))) {
            return "decoded model v" + h.getVersion() + " has " + size + " bytes with SHA-256 " + digest + ", published "
                    + h.getDecodedBytes() + " with " + hex(h.getDecodedSha256());
        }
        return null;
    }

    private static String fileSha256(Path file) throws IOException {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            MessageDigest sha = sha256();
            for (long off = 0; off < m.byteSize(); off += 1L << 30) {
                sha.update(m.asSlice(off, Math.min(1L << 30, m.byteSize() - off)).asByteBuffer());
            }
            return HexFormat.of().formatHex(sha.digest());
        }
    }

    /**
     * Receives a version delta, applies it to {@code known} and writes the result to {@code part}; null when
     * the result has the published size and SHA-256, else why not (the stream is drained either way).
     */
    private static String applyDelta(ModelHeader h, Iterator<ModelPart> parts, TensorSource known, long knownVersion,
            Path part) throws IOException {
        if (known == null || h.getDeltaBaseVersion() != knownVersion) {
            drain(parts);
            return "a version delta from v" + h.getDeltaBaseVersion() + " for a worker holding v" + knownVersion;
        }
        long limit = DecodeLimits.forLayout(known.infos()).maxEncodedBytes();
        if (h.getDeltaBytes() < 0 || h.getDeltaBytes() > Math.min(limit, Integer.MAX_VALUE - 16)) {
            drain(parts);
            return "version delta of " + h.getDeltaBytes() + " bytes: more than " + limit + " for this model";
        }
        byte[] bytes = new byte[(int) h.getDeltaBytes()];
        long[] at = {0};
        long got = receive(parts, (data, n) -> {
            if (at[0] + n > bytes.length) {
                throw dataLoss("version delta runs past its delta_bytes " + bytes.length);
            }
            System.arraycopy(data, 0, bytes, (int) at[0], n);
            at[0] += n;
        });
        if (got != bytes.length) {
            throw dataLoss("version delta: received " + got + " of " + bytes.length + " bytes");
        }
        try (Arena arena = Arena.ofConfined()) {
            TensorMap next;
            try {
                next = VersionDelta.decode(MemorySegment.ofArray(bytes), known, DecodeLimits.forLayout(known.infos()), arena);
            } catch (CodecException e) {
                return "version delta from v" + knownVersion + " refused: " + e.getMessage();
            }
            Safetensors.write(part, next);
        }
        String digest;
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(part, StandardOpenOption.READ)) {
            if (ch.size() != h.getTotalBytes()) {
                return "model rebuilt from v" + knownVersion + " has " + ch.size() + " bytes, published " + h.getTotalBytes();
            }
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            MessageDigest sha = sha256();
            for (long off = 0; off < file.byteSize(); off += 1L << 30) {
                sha.update(file.asSlice(off, Math.min(1L << 30, file.byteSize() - off)).asByteBuffer());
            }
            digest = HexFormat.of().formatHex(sha.digest());
        }
        if (!digest.equals(hex(h.getSha256()))) {
            return "model rebuilt from v" + knownVersion + " has SHA-256 " + digest + ", published " + hex(h.getSha256())
                    + " (the held model differs from v" + knownVersion + ")";
        }
        return null;
    }

    /**
     * A fragment pull's answer (Streaming DiLoCo).
     *
     * @param version   the version the values belong to
     * @param fragment  the fragment
     * @param values    its values (heap f32 copies), named and shaped as {@code layout} asked
     * @param sha256    SHA-256 of the whole model at {@code version}, hex
     * @param wireBytes chunk bytes that came over the wire
     */
    public record FragmentPull(long version, int fragment, TensorMap values, String sha256, long wireBytes) {}

    /**
     * Asks for only fragment {@code fragment}'s values of version {@code knownVersion} + 1, the only values
     * that version changed when the worker pushed that fragment from {@code knownVersion}. Returns null, the
     * call cancelled, when the coordinator answers otherwise (it has moved further on, or the known version
     * is current): then pull the model as usual. Chunks out of order, a CRC32C or SHA-256 mismatch, a size
     * other than {@code fragment_bytes}, or values that do not fit {@code layout} fail with DATA_LOSS.
     *
     * @param layout the fragment's names and shapes ({@code Fragments.layout}); bounds the bytes accepted
     */
    public FragmentPull pullFragment(String workerId, long knownVersion, int fragment, java.util.List<dev.tributary.tensor.TensorInfo> layout)
            throws IOException {
        long limit = Safetensors.header(layout, Map.of()).length + 8L;
        for (dev.tributary.tensor.TensorInfo t : layout) {
            limit += t.byteSize();
        }
        try (io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation()) {
            io.grpc.Context previous = call.attach();
            try {
                Iterator<ModelPart> parts = blocking.pullModel(PullRequest.newBuilder().setWorkerId(workerId)
                        .setKnownVersion(knownVersion).setFragmentPull(true).setFragment(fragment).build());
                if (!parts.hasNext()) {
                    throw dataLoss("the model stream ended before its header");
                }
                ModelHeader h = parts.next().getHeader();
                if (!h.getFragmentPull()) {
                    return null;
                }
                if (h.getFragment() != fragment || h.getVersion() != knownVersion + 1) {
                    throw dataLoss("fragment pull of fragment " + fragment + " at v" + (knownVersion + 1) + " answered with fragment "
                            + h.getFragment() + " at v" + h.getVersion());
                }
                if (h.getFragmentBytes() <= 0 || h.getFragmentBytes() > limit) {
                    throw dataLoss("fragment " + fragment + " of " + h.getFragmentBytes() + " bytes: expected at most " + limit);
                }
                byte[] bytes = new byte[(int) h.getFragmentBytes()];
                MessageDigest sha = sha256();
                long[] at = {0};
                long got = receive(parts, (data, n) -> {
                    if (at[0] + n > bytes.length) {
                        throw dataLoss("fragment " + fragment + " runs past its fragment_bytes " + bytes.length);
                    }
                    System.arraycopy(data, 0, bytes, (int) at[0], n);
                    sha.update(data, 0, n);
                    at[0] += n;
                });
                String digest = HexFormat.of().formatHex(sha.digest());
                if (got != bytes.length || !digest.equals(hex(h.getFragmentSha256()))) {
                    throw dataLoss("fragment " + fragment + " of v" + h.getVersion() + ": received " + got + " of " + bytes.length
                            + " bytes with SHA-256 " + digest + ", expected " + hex(h.getFragmentSha256()));
                }
                TensorMap values = new TensorMap();
                dev.tributary.tensor.SafetensorsFile f;
                try {
                    f = dev.tributary.tensor.SafetensorsFile.of(MemorySegment.ofArray(bytes), "fragment " + fragment);
                } catch (RuntimeException e) {
                    throw dataLoss("fragment " + fragment + " of v" + h.getVersion() + ": " + e.getMessage());
                }
                for (dev.tributary.tensor.TensorInfo want : layout) {
                    if (!f.names().contains(want.name())
                            || !java.util.Arrays.equals(f.tensor(want.name()).shape(), want.shape())) {
                        throw dataLoss("fragment " + fragment + " of v" + h.getVersion() + ": does not hold " + want);
                    }
                    dev.tributary.tensor.Tensor t = f.tensor(want.name());
                    values.put(want.name(), t.toF32(Arena.ofAuto()));
                }
                if (f.names().size() != layout.size()) {
                    throw dataLoss("fragment " + fragment + " of v" + h.getVersion() + ": " + f.names().size() + " tensors, expected "
                            + layout.size());
                }
                return new FragmentPull(h.getVersion(), fragment, values, hex(h.getSha256()), got);
            } finally {
                call.detach(previous);
            }
        }
    }

    /**
     * One update to push.
     *
     * @param delta the delta's file (trained − pulled weights): a safetensors image, or a message of {@code codec}
     * @param codec          "safetensors" or the spec of the codec that encoded it
     * @param baseCodec      the codec of the lossy pull the delta was trained from, or null for an exact base
     * @param baseSha256     that pull's decoded SHA-256 (hex), with {@code baseCodec}
     * @param feedback       the error feedback around {@code codec}: "", "ef" or "ef21"
     * @param estimateSha256 EF21: SHA-256 of the estimate h before this message; empty for h = 0
     */
    public record Update(String updateId, String workerId, long baseVersion, long examples, int localSteps,
            Map<String, Double> metrics, Path delta, String codec, String baseCodec, String baseSha256, String feedback,
            byte[] estimateSha256) {
        public Update {
            metrics = Map.copyOf(metrics);
            feedback = feedback == null ? "" : feedback;
            estimateSha256 = estimateSha256 == null ? new byte[0] : estimateSha256.clone();
        }

        /** An update from an exact base, no EF21. */
        public Update(String updateId, String workerId, long baseVersion, long examples, int localSteps,
                Map<String, Double> metrics, Path delta, String codec) {
            this(updateId, workerId, baseVersion, examples, localSteps, metrics, delta, codec, null, null, "", null);
        }

        /** A safetensors update. */
        public Update(String updateId, String workerId, long baseVersion, long examples, int localSteps,
                Map<String, Double> metrics, Path delta) {
            this(updateId, workerId, baseVersion, examples, localSteps, metrics, delta, "safetensors");
        }
    }

    /** Pushes one update and waits for its acknowledgment, which comes once the update is durable. */
    public PushAck push(Update u) throws IOException {
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(u.delta(), StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            CompletableFuture<PushAck> result = new CompletableFuture<>();
            Sender sender = new Sender(result);
            async.pushUpdate(sender);
            sender.send(UpdatePart.newBuilder().setHeader(UpdateHeader.newBuilder()
                    .setUpdateId(u.updateId()).setWorkerId(u.workerId()).setBaseVersion(u.baseVersion())
                    .setExamples(u.examples()).setLocalSteps(u.localSteps()).putAllMetrics(u.metrics())
                    .setDeltaBytes(size).setCodec(u.codec()).setErrorFeedback(u.feedback())
                    .setEf21EstimateSha256(ByteString.copyFrom(u.estimateSha256()))
                    .setBaseCodec(u.baseCodec() == null ? "" : u.baseCodec())
                    .setBaseDecodedSha256(u.baseCodec() == null ? ByteString.EMPTY
                            : ByteString.copyFrom(HexFormat.of().parseHex(u.baseSha256())))).build());
            CRC32C crc = new CRC32C();
            for (long at = 0; at < size && !result.isDone(); at += CHUNK_BYTES) {
                // A heap array goes to the transport in one copy; a mapped buffer would take a detour.
                byte[] data = new byte[(int) Math.min(CHUNK_BYTES, size - at)];
                MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, at, data, 0, data.length);
                crc.reset();
                crc.update(data);
                sender.send(UpdatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                        .setData(UnsafeByteOperations.unsafeWrap(data)).setCrc32C((int) crc.getValue())).build());
            }
            sender.finish();
            try {
                return result.get();
            } catch (ExecutionException e) {
                if (e.getCause() instanceof StatusRuntimeException s) {
                    throw s;
                }
                throw new CompletionException(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** Sends parts only while the transport is ready for them, so a large delta is never buffered whole. */
    private static final class Sender implements ClientResponseObserver<UpdatePart, PushAck> {
        private final CompletableFuture<PushAck> result;
        private final ReadySender<UpdatePart> out;
        private PushAck ack;

        Sender(CompletableFuture<PushAck> result) {
            this.result = result;
            this.out = new ReadySender<>(result::isDone);
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdatePart> requestStream) {
            out.attach(requestStream);
        }

        void send(UpdatePart part) {
            out.send(part);
        }

        void finish() {
            out.finish();
        }

        @Override
        public void onNext(PushAck value) {
            ack = value;
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
            out.wake();
        }

        @Override
        public void onCompleted() {
            result.complete(ack);
            out.wake();
        }
    }

    private static void drain(Iterator<ModelPart> parts) {
        while (parts.hasNext()) {
            parts.next();
        }
    }

    private static StatusRuntimeException dataLoss(String message) {
        return Status.DATA_LOSS.withDescription(message).asRuntimeException();
    }

    private static String hex(ByteString b) {
        return HexFormat.of().formatHex(b.toByteArray());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
