package dev.tributary.worker.diloco;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.OuterStateHeader;
import dev.tributary.protocol.OuterStatePart;
import dev.tributary.protocol.PeerRelayGrpc;
import dev.tributary.protocol.PeerStateHeader;
import dev.tributary.protocol.PeerStatePart;
import dev.tributary.protocol.ReadySender;
import dev.tributary.worker.client.CoordinatorClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.zip.CRC32C;

/**
 * One {@code ExchangeStream} call: sends the header and φ's then δ's bytes in chunks with their CRC32C,
 * only while the transport is ready (a large state is never buffered whole), then receives the answer:
 * the header, and when paired the peer's bytes, checked chunk by chunk (order, CRC32C), against the sizes
 * announced (bounded before anything is allocated) and per image against its SHA-256. Any mismatch fails
 * with DATA_LOSS, which the caller retries like an unreachable relay.
 */
final class OuterStateCall implements ClientResponseObserver<OuterStatePart, PeerStatePart> {
    /** The answer: its header and, when paired, the peer's φ and δ images (views of one array). */
    record Answer(PeerStateHeader header, MemorySegment outer, MemorySegment outerGradient, byte[] sentOuterSha256) {}

    private byte[] sentOuterSha;

    private final long maxImageBytes;
    private final CompletableFuture<Answer> result = new CompletableFuture<>();
    private final CRC32C crc = new CRC32C();
    private final ReadySender<OuterStatePart> out = new ReadySender<>(result::isDone);
    private PeerStateHeader header;
    private byte[] received;
    private long at;

    private OuterStateCall(long maxImageBytes) {
        this.maxImageBytes = maxImageBytes;
    }

    /**
     * Exchanges {@code outer} and {@code gradient} (safetensors images) under {@code header} (its sizes and
     * SHA-256s are filled in here); an answer's image larger than {@code maxImageBytes} is refused unread.
     */
    static Answer exchange(PeerRelayGrpc.PeerRelayStub relay, OuterStateHeader.Builder header, MemorySegment outer,
            MemorySegment gradient, long maxImageBytes) {
        OuterStateCall c = new OuterStateCall(maxImageBytes);
        c.sentOuterSha = sha256(outer);
        relay.exchangeStream(c);
        c.send(OuterStatePart.newBuilder().setHeader(header.setOuterBytes(outer.byteSize())
                .setOuterGradientBytes(gradient.byteSize()).setOuterSha256(ByteString.copyFrom(c.sentOuterSha))
                .setOuterGradientSha256(ByteString.copyFrom(sha256(gradient)))).build());
        CRC32C crc = new CRC32C();
        long offset = 0;
        for (MemorySegment image : new MemorySegment[] {outer, gradient}) {
            for (long from = 0; from < image.byteSize() && !c.result.isDone(); from += CoordinatorClient.CHUNK_BYTES) {
                byte[] data = new byte[(int) Math.min(CoordinatorClient.CHUNK_BYTES, image.byteSize() - from)];
                MemorySegment.copy(image, ValueLayout.JAVA_BYTE, from, data, 0, data.length);
                crc.reset();
                crc.update(data);
                c.send(OuterStatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(offset + from)
                        .setData(UnsafeByteOperations.unsafeWrap(data)).setCrc32C((int) crc.getValue())).build());
            }
            offset += image.byteSize();
        }
        c.out.finish();
        try {
            return c.result.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw Status.INTERNAL.withDescription(String.valueOf(e.getCause())).withCause(e.getCause()).asRuntimeException();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c.out.cancel("interrupted", e);
            throw Status.CANCELLED.withDescription("interrupted").asRuntimeException();
        }
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<OuterStatePart> requestStream) {
        out.attach(requestStream);
    }

    private void send(OuterStatePart part) {
        out.send(part);
    }

    private void wake() {
        out.wake();
    }

    @Override
    public void onNext(PeerStatePart part) {
        if (result.isDone()) {
            return;
        }
        if (part.hasHeader()) {
            if (header != null) {
                fail("a second answer header");
                return;
            }
            PeerStateHeader h = part.getHeader();
            if (h.getPaired()) {
                for (long n : new long[] {h.getOuterBytes(), h.getOuterGradientBytes()}) {
                    if (n < 1 || n > maxImageBytes) {
                        fail("the peer's image of " + n + " bytes: must be 1 to " + maxImageBytes);
                        return;
                    }
                }
                if (h.getOuterBytes() + h.getOuterGradientBytes() > Integer.MAX_VALUE - 16) {
                    fail("the peer's state of " + (h.getOuterBytes() + h.getOuterGradientBytes()) + " bytes is over 2 GiB");
                    return;
                }
                received = new byte[(int) (h.getOuterBytes() + h.getOuterGradientBytes())];
            }
            header = h;
            return;
        }
        Chunk c = part.getChunk();
        if (header == null || received == null) {
            fail("a chunk " + (header == null ? "before the answer's header" : "in an unpaired answer"));
            return;
        }
        int n = c.getData().size();
        if (c.getOffset() != at || n > received.length - at) {
            fail("peer chunk at offset " + c.getOffset() + " of " + n + " bytes: expected offset " + at + " within "
                    + received.length);
            return;
        }
        c.getData().copyTo(received, (int) at);
        crc.reset();
        crc.update(received, (int) at, n);
        if ((int) crc.getValue() != c.getCrc32C()) {
            fail("peer chunk at offset " + at + ": CRC32C mismatch");
            return;
        }
        at += n;
    }

    @Override
    public void onError(Throwable t) {
        result.completeExceptionally(t);
        wake();
    }

    @Override
    public void onCompleted() {
        if (header == null) {
            fail("the answer ended before its header");
        } else if (received == null) {
            result.complete(new Answer(header, null, null, sentOuterSha));
        } else if (at != received.length) {
            fail("received " + at + " of the peer's " + received.length + " bytes");
        } else {
            MemorySegment all = MemorySegment.ofArray(received);
            MemorySegment outer = all.asSlice(0, header.getOuterBytes());
            MemorySegment gradient = all.asSlice(header.getOuterBytes());
            if (!Arrays.equals(sha256(outer), header.getOuterSha256().toByteArray())
                    || !Arrays.equals(sha256(gradient), header.getOuterGradientSha256().toByteArray())) {
                fail("the peer's state does not match its SHA-256");
            } else {
                result.complete(new Answer(header, outer, gradient, sentOuterSha));
            }
        }
        wake();
    }

    private void fail(String message) {
        if (result.completeExceptionally(Status.DATA_LOSS.withDescription(message).asRuntimeException())) {
            out.cancel(message, null);
        }
        wake();
    }

    static byte[] sha256(MemorySegment bytes) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        for (long off = 0; off < bytes.byteSize(); off += 1L << 30) {
            sha.update(bytes.asSlice(off, Math.min(1L << 30, bytes.byteSize() - off)).asByteBuffer());
        }
        return sha.digest();
    }
}
