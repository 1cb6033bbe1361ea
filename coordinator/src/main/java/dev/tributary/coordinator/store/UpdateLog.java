package dev.tributary.coordinator.store;

import dev.tributary.coordinator.model.ModelImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The append-only, checksummed log of accepted updates, with group commit: one writer thread drains
 * everything appended since its last pass, writes it, and forces it to disk with one fsync; the futures
 * of all records that fsync covered complete after it, in log order.
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

    private final Path file;
    private final FileChannel channel;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final Thread writer;
    private long end;
    private volatile long durable;
    private volatile IOException failure;
    private volatile long syncs;
    private volatile boolean closed;

    private UpdateLog(Path file, FileChannel channel, long end) {
        this.file = file;
        this.channel = channel;
        this.end = end;
        this.durable = end;
        this.writer = Thread.ofPlatform().name("tributary-log-writer").daemon().start(this::run);
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
                ch.force(true);
            }
            ch.position(validEnd);
            Durables.fsyncDirectory(file.toAbsolutePath().getParent());
            return new UpdateLog(file, ch, validEnd);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    public Path file() {
        return file;
    }

    /** Queues {@code r} for writing; durable once the returned future completes. */
    public synchronized Appended append(AcceptedUpdate r) {
        if (closed) {
            throw new IllegalStateException("update log " + file + " is closed");
        }
        CompletableFuture<Void> f = new CompletableFuture<>();
        IOException failed = failure;
        if (failed != null) {
            f.completeExceptionally(failed);
            return new Appended(end, end, f);
        }
        LogCodec.Encoded e = LogCodec.encode(r);
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

    private void run() {
        List<Pending> batch = new ArrayList<>();
        while (true) {
            Pending first;
            try {
                first = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            batch.add(first);
            queue.drainTo(batch, MAX_BATCH - 1);
            boolean stop = batch.remove(STOP);
            if (!batch.isEmpty()) {
                commit(batch);
            }
            batch.clear();
            if (stop) {
                return;
            }
        }
    }

    private void commit(List<Pending> batch) {
        if (failure == null) {
            try {
                for (Pending p : batch) {
                    writeFully(p.record().head());
                    MemorySegment tail = p.record().tail();
                    if (tail.byteSize() > 0) {
                        List<ByteBuffer> parts = new ArrayList<>();
                        ModelImage.forEachBuffer(tail, parts::add);
                        for (ByteBuffer part : parts) {
                            writeFully(part);
                        }
                    }
                }
                channel.force(false);
                syncs++;
                durable = batch.getLast().end();
            } catch (IOException | RuntimeException e) {
                failure = e instanceof IOException io ? io : new IOException(file + ": " + e.getMessage(), e);
            }
        }
        for (Pending p : batch) {
            if (failure == null) {
                p.durable().complete(null);
            } else {
                p.durable().completeExceptionally(new UncheckedIOException("update log " + file + " failed", failure));
            }
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
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
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        channel.close();
    }
}
