package dev.tributary.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The append-only, checksummed log of accepted updates, with group commit: a writer thread writes
 * records in the order they were appended while a syncer thread forces the file to disk whenever
 * anything new was written; one fsync covers every record whose last byte was written before it began,
 * and their futures complete after it, in log order. Writing and forcing overlap, so the disk never
 * waits for the next batch to be copied.
 *
 * <p>Call order: {@link #append} from one thread (the coordinator's sequencer) so that positions follow
 * decisions; {@link #close} once. After an I/O failure the log is failed for good: every pending and
 * later append completes exceptionally, and the coordinator must be restarted to recover from disk.
 */
public final class UpdateLog implements AutoCloseable {
    /** Where a record landed and when it is durable. */
    public record Appended(long start, long end, CompletableFuture<Void> durable) {}

    private record Pending(LogCodec.Encoded record, long end, CompletableFuture<Void> durable) {}

    private static final Pending STOP = new Pending(null, -1, null);
    private static final int MAX_BATCH = 256;
    /** Bytes written between two looks of the syncer at the log. */
    private static final int SLICE = 8 << 20;

    private final Path file;
    private final FileChannel channel;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Object lock = new Object();
    private final ArrayDeque<Pending> unsynced = new ArrayDeque<>();
    private final Thread writer;
    private final Thread syncer;
    private long end;
    private long written;
    private long synced;
    private boolean writerDone;
    private volatile long durable;
    private volatile IOException failure;
    private volatile long syncs;
    private volatile boolean closed;

    private UpdateLog(Path file, FileChannel channel, long end) {
        this.file = file;
        this.channel = channel;
        this.end = end;
        this.written = end;
        this.synced = end;
        this.durable = end;
        this.writer = Thread.ofPlatform().name("tributary-log-writer").daemon().start(this::writeLoop);
        this.syncer = Thread.ofPlatform().name("tributary-log-syncer").daemon().start(this::syncLoop);
    }

    /**
     * Opens {@code file} for appending after {@code validEnd}, cutting off anything beyond it (a torn
     * tail that {@link LogScan} found); creates the file when missing.
     */
    public static UpdateLog open(Path file, long validEnd) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
        try {
            if (ch.size() < validEnd) {
                throw new IOException(file + ": " + ch.size() + " bytes, shorter than its valid end " + validEnd);
            }
            if (ch.size() > validEnd) {
                ch.truncate(validEnd);
            }
            // Records a killed process wrote but never forced may sit in the page cache: force them before
            // replay's acknowledgments (of retried ids) rely on them.
            ch.force(true);
            ch.position(validEnd);
            Durables.fsyncDirectory(file.toAbsolutePath().getParent());
            return new UpdateLog(file, ch, validEnd);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Queues {@code r} for writing; durable once the returned future completes. */
    public Appended append(LogRecord r) {
        return append(Prepared.of(r));
    }

    /** Queues a prepared record for writing; durable once the returned future completes. */
    public synchronized Appended append(Prepared r) {
        if (closed) {
            throw new IllegalStateException("update log " + file + " is closed");
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        IOException failed = failure;
        if (failed != null) {
            f.completeExceptionally(failed());
            return new Appended(end, end, f);
        }
        Failpoints.hit("log.append");
        LogCodec.Encoded e = r.encoded;
        long start = end;
        end += e.size();
        queue.add(new Pending(e, end, f));
        return new Appended(start, end, f);
    }

    /** The end of the last appended record (durable or not). */
    public synchronized long end() {
        return end;
    }

    /** Everything before this position has been forced to disk. */
    public long durablePosition() {
        return durable;
    }

    /** Number of fsyncs so far (one per group commit). */
    public long syncCount() {
        return syncs;
    }

    /** The I/O failure that stopped the log, or null. */
    public IOException failure() {
        return failure;
    }

    private void writeLoop() {
        List<Pending> batch = new ArrayList<>();
        try {
            while (true) {
                batch.add(queue.take());
                queue.drainTo(batch, MAX_BATCH - 1);
                boolean stop = batch.remove(STOP);
                for (Pending p : batch) {
                    write(p);
                }
                batch.clear();
                if (stop) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            synchronized (lock) {
                writerDone = true;
                lock.notifyAll();
            }
        }
    }

    /**
     * Writes one record in slices, telling the syncer after each so the disk starts early on large ones.
     * The record joins the unsynced set before its first byte is written: a force that covers its end
     * always finds it there.
     */
    private void write(Pending p) {
        if (failure != null) {
            p.durable().completeExceptionally(failed());
            return;
        }
        try {
            p.record().seal();
            synchronized (lock) {
                unsynced.add(p);
            }
            List<ByteBuffer> parts = new ArrayList<>();
            parts.add(p.record().head());
            ModelImage.forEachBuffer(p.record().tail(), parts::add);
            for (ByteBuffer part : parts) {
                while (part.hasRemaining()) {
                    int limit = part.limit();
                    part.limit(Math.min(limit, part.position() + SLICE));
                    Failpoints.hit("log.write");
                    while (part.hasRemaining()) {
                        channel.write(part);
                    }
                    part.limit(limit);
                    synchronized (lock) {
                        written = channel.position();
                        lock.notifyAll();
                    }
                }
            }
            Failpoints.hit("log.written");
        } catch (IOException | RuntimeException e) {
            fail(e);
            p.durable().completeExceptionally(failed());
        }
    }

    /**
     * Forces whatever has been written, again and again while there is more: a record is durable once a
     * force that began after its last byte was written has returned.
     */
    private void syncLoop() {
        while (true) {
            long target;
            synchronized (lock) {
                while (written == synced && !(writerDone && unsynced.isEmpty()) && failure == null) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (failure != null || (writerDone && unsynced.isEmpty() && written == synced)) {
                    return;
                }
                target = written;
            }
            try {
                Failpoints.hit("log.force");
                channel.force(false);
                Failpoints.hit("log.forced");
            } catch (IOException | RuntimeException e) {
                fail(e);
                return;
            }
            syncs++;
            List<Pending> done = new ArrayList<>();
            synchronized (lock) {
                synced = target;
                while (!unsynced.isEmpty() && unsynced.peekFirst().end() <= target) {
                    done.add(unsynced.pollFirst());
                }
            }
            if (!done.isEmpty()) {
                durable = done.getLast().end();
                for (Pending p : done) {
                    p.durable().complete(null);
                }
            }
        }
    }

    private void fail(Exception e) {
        List<Pending> lost;
        synchronized (lock) {
            if (failure == null) {
                failure = e instanceof IOException io ? io : new IOException(file + ": " + e.getMessage(), e);
            }
            lost = new ArrayList<>(unsynced);
            unsynced.clear();
            lock.notifyAll();
        }
        for (Pending p : lost) {
            p.durable().completeExceptionally(failed());
        }
    }

    private UncheckedIOException failed() {
        return new UncheckedIOException("update log " + file + " failed", failure);
    }

    /** Writes and syncs everything queued, then closes the file. */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            queue.add(STOP);
        }
        try {
            writer.join(TimeUnit.MINUTES.toMillis(5));
            syncer.join(TimeUnit.MINUTES.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channel.close();
    }
}
