package dev.tributary.bench.coordinator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * What a verified pull could reach on this machine with no protocol at all: the same number of bytes sent
 * over one loopback TCP connection from heap arrays (as the coordinator holds a model), received into
 * pooled direct buffers, written to a file (or not) and digested with SHA-256 on a second thread, as a
 * competent hand-written transfer would do it. No framing, no CRC32C, no flow control, no authentication:
 * a ceiling for any protocol, not a design to ship.
 */
final class RawPullCeiling implements AutoCloseable {
    private static final int BUFFER = 1 << 20;
    private static final int BUFFERS = 8;

    private final ServerSocketChannel server;
    private final Thread sender;
    private final byte[][] chunks;

    /** A sender of {@code bytes} bytes (in chunks of {@code chunkBytes}) to every connection it accepts. */
    RawPullCeiling(long bytes, int chunkBytes) throws IOException {
        int n = (int) ((bytes + chunkBytes - 1) / chunkBytes);
        chunks = new byte[n][];
        for (int i = 0; i < n; i++) {
            chunks[i] = new byte[(int) Math.min(chunkBytes, bytes - (long) i * chunkBytes)];
            java.util.Arrays.fill(chunks[i], (byte) (i * 31 + 7));
        }
        server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        sender = Thread.ofPlatform().daemon().name("raw-sender").start(this::serve);
    }

    private void serve() {
        while (server.isOpen()) {
            try (SocketChannel s = server.accept()) {
                for (byte[] c : chunks) {
                    ByteBuffer b = ByteBuffer.wrap(c);
                    while (b.hasRemaining()) {
                        s.write(b);
                    }
                }
            } catch (IOException e) {
                if (server.isOpen()) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    /** One transfer into {@code file} (deleted first), or into memory when {@code file} is null: GB/s, verified. */
    double pull(Path file) throws IOException, InterruptedException {
        if (file != null) {
            Files.deleteIfExists(file);
        }
        long t0 = System.nanoTime();
        BlockingQueue<ByteBuffer> free = new ArrayBlockingQueue<>(BUFFERS);
        BlockingQueue<ByteBuffer> full = new ArrayBlockingQueue<>(BUFFERS + 1);
        for (int i = 0; i < BUFFERS; i++) {
            free.add(ByteBuffer.allocateDirect(BUFFER));
        }
        ByteBuffer end = ByteBuffer.allocate(0);
        MessageDigest sha = sha256();
        Thread digester = Thread.ofPlatform().name("raw-digest").start(() -> {
            try {
                for (ByteBuffer b; (b = full.take()) != end; ) {
                    sha.update(b);
                    free.add(b.clear());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        long got = 0;
        try (SocketChannel s = SocketChannel.open(server.getLocalAddress());
                FileChannel out = file == null ? null : FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            while (true) {
                ByteBuffer b = free.take();
                while (b.hasRemaining() && s.read(b) >= 0) {
                    // fill the buffer
                }
                b.flip();
                if (!b.hasRemaining()) {
                    break;
                }
                got += b.remaining();
                if (out != null) {
                    ByteBuffer w = b.duplicate();
                    while (w.hasRemaining()) {
                        out.write(w);
                    }
                }
                full.put(b);
            }
        } finally {
            full.put(end);
            digester.join();
        }
        sha.digest();
        double seconds = (System.nanoTime() - t0) / 1e9;
        long expected = 0;
        for (byte[] c : chunks) {
            expected += c.length;
        }
        if (got != expected) {
            throw new IllegalStateException("raw transfer got " + got + " of " + expected + " bytes");
        }
        return got / seconds / 1e9;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        server.close();
        sender.join(10_000);
    }
}
