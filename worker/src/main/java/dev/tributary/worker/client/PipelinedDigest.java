package dev.tributary.worker.client;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A SHA-256 computed on a thread of its own while the caller goes on receiving: {@link #update} queues
 * the bytes (an immutable {@link ByteString}, which may alias the transport's buffers: nothing is copied)
 * and returns; the digest thread runs the bytes through the digest and then releases them. {@link #digest}
 * waits for the digest thread and gives the hash. SHA-256 is sequential, so one stream's digest runs at one
 * core's speed at best; taking it off the receiving thread lets the CRC32C checks, the file writes and the
 * transport run beside it instead of after it. Memory is bounded: at most {@link #IN_FLIGHT} updates are
 * queued, and the caller waits when they are.
 *
 * <p>Call order: {@link #update} any number of times, then {@link #digest} or {@link #close}. Every
 * update's release runs exactly once, whichever way the digest ends.
 */
final class PipelinedDigest implements AutoCloseable {
    /** Updates queued or being digested at most. */
    static final int IN_FLIGHT = 4;
    private static final Part END = new Part(ByteString.EMPTY, () -> {});

    private record Part(ByteString data, Runnable release) {}

    private final BlockingQueue<Part> queue = new ArrayBlockingQueue<>(IN_FLIGHT);
    private final MessageDigest sha;
    private final Thread thread;
    private volatile Throwable failure;

    PipelinedDigest() {
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        thread = Thread.ofPlatform().daemon().name("pull-sha256").start(this::run);
    }

    /**
     * Adds {@code data}; {@code release} runs on the digest thread once the bytes are digested (or when the
     * digest is abandoned), after which the bytes are not read again.
     */
    void update(ByteString data, Runnable release) {
        Part p = new Part(data, release);
        try {
            while (!queue.offer(p, 50, TimeUnit.MILLISECONDS)) {
                if (!thread.isAlive()) {
                    release.run();
                    releaseQueued();
                    throw new IllegalStateException("SHA-256 thread stopped: " + failure, failure);
                }
            }
        } catch (InterruptedException e) {
            release.run();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while digesting", e);
        }
    }

    /** The SHA-256 of everything added, once the digest thread has caught up. */
    byte[] digest() {
        try {
            while (!queue.offer(END, 50, TimeUnit.MILLISECONDS) && thread.isAlive()) {
                // the digest thread is still working through a full queue
            }
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            close();
            throw new IllegalStateException("interrupted while digesting", e);
        }
        releaseQueued();
        if (failure != null) {
            throw new IllegalStateException("SHA-256 thread failed: " + failure, failure);
        }
        return sha.digest();
    }

    /** Stops the digest thread without a result (the pull failed) and releases what was still queued. */
    @Override
    public void close() {
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        releaseQueued();
    }

    private void releaseQueued() {
        List<Part> left = new ArrayList<>();
        queue.drainTo(left);
        for (Part p : left) {
            p.release().run();
        }
    }

    private void run() {
        try {
            while (true) {
                Part p = queue.take();
                if (p == END) {
                    return;
                }
                try {
                    for (ByteBuffer b : p.data().asReadOnlyByteBufferList()) {
                        sha.update(b);
                    }
                } finally {
                    p.release().run();
                }
            }
        } catch (InterruptedException e) {
            // close(): no result wanted
        } catch (Throwable t) {
            failure = t;
        }
    }
}
