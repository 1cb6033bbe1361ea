package dev.tributary.coordinator.relay;

import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.PeerStateHeader;
import dev.tributary.protocol.PeerStatePart;
import dev.tributary.store.ModelImage;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * Streams an exchange's answer: the header, then the peer's held state (φ then δ) from its file, in chunks
 * of {@link ModelImage#CHUNK_BYTES} with their CRC32C, as fast as the transport is ready for them, so that a
 * large state is never held in memory whole. The file was opened when the peer was drawn: a later commit
 * that replaces it does not change what this answer sends.
 */
final class StateSender {
    private final ServerCallStreamObserver<PeerStatePart> out;
    private final LongConsumer bytesOut;
    private FileChannel file;
    private long size;
    private long at;
    private boolean started;
    private boolean done;

    /** Attach during the service method's initial call (gRPC takes the ready handler only then). */
    StateSender(ServerCallStreamObserver<PeerStatePart> out, LongConsumer bytesOut) {
        this.out = out;
        this.bytesOut = bytesOut;
        out.setOnReadyHandler(this::pump);
        out.setOnCancelHandler(this::cancelled);
    }

    /** Sends {@code header}, then {@code size} bytes of {@code file} (null with 0: the header only); closes the file. */
    synchronized void send(PeerStateHeader header, FileChannel file, long size) {
        this.file = file;
        this.size = size;
        started = true;
        if (done || out.isCancelled()) {
            cancelled();
            return;
        }
        out.onNext(PeerStatePart.newBuilder().setHeader(header).build());
        pump();
    }

    private synchronized void pump() {
        if (!started || done) {
            return;
        }
        if (out.isCancelled()) {
            cancelled();
            return;
        }
        CRC32C crc = new CRC32C();
        try {
            while (at < size && out.isReady()) {
                byte[] data = new byte[(int) Math.min(ModelImage.CHUNK_BYTES, size - at)];
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) {
                    if (file.read(b, at + b.position()) < 0) {
                        throw new IOException("held state ended at " + (at + b.position()) + " of " + size + " bytes");
                    }
                }
                crc.reset();
                crc.update(data);
                out.onNext(PeerStatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                        .setData(UnsafeByteOperations.unsafeWrap(data)).setCrc32C((int) crc.getValue())).build());
                bytesOut.accept(data.length);
                at += data.length;
            }
        } catch (IOException e) {
            done = true;
            close();
            out.onError(Status.UNAVAILABLE.withDescription("relay could not read the peer's state: " + e.getMessage())
                    .asRuntimeException());
            return;
        }
        if (at == size) {
            done = true;
            close();
            out.onCompleted();
        }
    }

    private synchronized void cancelled() {
        done = true;
        close();
    }

    private void close() {
        if (file != null) {
            try {
                file.close();
            } catch (IOException ignored) {
                // read-only: nothing to lose
            }
            file = null;
        }
    }
}
