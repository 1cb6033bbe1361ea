package dev.tributary.worker.client;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A SHA-256 computed on a thread of its own while the caller goes on receiving: {@link #update} copies
 * the bytes into one of a few pooled buffers (a memcpy, an order of magnitude faster than the digest)
 * and returns; {@link #digest} waits for the digest thread and gives the hash. SHA-256 is sequential, so
 * one stream's digest runs at one core's speed at best; taking it off the receiving thread lets the CRC32C
 * checks, the file writes and the transport run beside it instead of after it. Memory is bounded by the
 * buffers (the caller waits when all are queued).
 *
 * <p>Call order: {@link #update} any number of times, then {@link #digest} or {@link #close}.
 */
final class PipelinedDigest implements AutoCloseable {
    private static final int BUFFERS = 4;
    private static final byte[] END = new byte[0];

    private record Part(byte[] data, int length) {}

    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(BUFFERS);
    private final BlockingQueue<Part> queue = new ArrayBlockingQueue<>(BUFFERS + 1);
    private final MessageDigest sha;
    private final Thread thread;
    private int allocated;
    private volatile Throwable failure;

    PipelinedDigest() {
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        thread = Thread.ofPlatform().daemon().name("pull-sha256").start(this::run);
    }

    /** Adds {@code data[0, n)}; the array may be reused as soon as this returns. */
    void update(byte[] data, int n) {
        byte[] b = free.poll();
        if (b == null && allocated < BUFFERS) {
            allocated++;
            b = new byte[Math.max(n, 1 << 20)];
        }
        try {
            while (b == null && (b = free.poll(50, TimeUnit.MILLISECONDS)) == null) {
                if (!thread.isAlive()) {
                    throw new IllegalStateException("SHA-256 thread stopped: " + failure, failure);
                }
            }
            if (b.length < n) {
                b = new byte[n];
            }
            System.arraycopy(data, 0, b, 0, n);
            queue.put(new Part(b, n));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while digesting", e);
        }
    }

    /** The SHA-256 of everything added, once the digest thread has caught up. */
    byte[] digest() {
        try {
            queue.put(new Part(END, 0));
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new IllegalStateException("interrupted while digesting", e);
        }
        if (failure != null) {
            throw new IllegalStateException("SHA-256 thread failed: " + failure, failure);
        }
        return sha.digest();
    }

    /** Stops the digest thread without a result (the pull failed). */
    @Override
    public void close() {
        thread.interrupt();
    }

    private void run() {
        try {
            while (true) {
                Part p = queue.take();
                if (p.data() == END) {
                    return;
                }
                sha.update(p.data(), 0, p.length());
                free.add(p.data());
            }
        } catch (InterruptedException e) {
            // close(): no result wanted
        } catch (Throwable t) {
            failure = t;
        }
    }
}
