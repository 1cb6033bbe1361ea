package dev.tributary.tensor;

import com.sun.nio.file.ExtendedOpenOption;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The byte stream of one new file, written behind the caller: {@link #write} copies into one of a few
 * block-aligned staging buffers and returns; a writer thread hands each full buffer to the file while the
 * caller computes the next bytes. Memory is bounded by the staging buffers (the caller waits when all are
 * in flight).
 *
 * <p>Where the file system allows it the buffers go to the disk with direct I/O ({@code O_DIRECT}): no
 * copy into the page cache, no dirty pages for a final {@code fsync} to wait on, and the disk is busy from
 * the first buffer on. Elsewhere (tmpfs, platforms without direct I/O) they are written through the page
 * cache and the written ranges are flushed every {@link #FLUSH_BYTES} or so, so that the final sync has little
 * left. Either way {@link #finish} returns only once every byte and the file's size are durable
 * ({@link FileChannel#force}); nothing here renames or publishes the file.
 *
 * <p>Call order: {@link #create}, {@link #write} any number of times, then {@link #finish} or
 * {@link #abort} (which may also follow a failed {@link #finish}).
 */
final class WriteBehind {
    /** Bytes per staging buffer (a multiple of every block size in use). */
    static final int CHUNK = 8 << 20;
    /** Staging buffers: one being filled, the others queued or being written. */
    static final int BUFFERS = 4;
    /** In buffered mode, written bytes between two flushes of the file's data. */
    static final long FLUSH_BYTES = 64L << 20;

    /** Test seam: sees {@code "chunk"} after each chunk reached the file, {@code "flush"} after each flush. */
    static volatile Consumer<String> hook;

    private static final MemorySegment POISON = MemorySegment.NULL;

    private record Job(MemorySegment buffer, int length, long position) {}

    private final Path path;
    private final FileChannel buffered;
    private final FileChannel direct;
    private final int chunk;
    private final long block;
    private final long flushBytes;
    private final Arena arena = Arena.ofShared();
    private final BlockingQueue<MemorySegment> free;
    private final BlockingQueue<Job> queue;
    private final Thread thread;
    private volatile Throwable failure;
    private MemorySegment current;
    private long currentPosition;
    private int filled;
    private int allocated;
    private boolean done;

    private WriteBehind(Path path, FileChannel buffered, FileChannel direct, int chunk, long block, long flushBytes) {
        this.path = path;
        this.buffered = buffered;
        this.direct = direct;
        this.chunk = chunk;
        this.block = block;
        this.flushBytes = flushBytes;
        this.free = new ArrayBlockingQueue<>(BUFFERS);
        this.queue = new ArrayBlockingQueue<>(BUFFERS + 1);
        this.thread = Thread.ofPlatform().daemon().name("write-behind " + path.getFileName()).unstarted(this::drain);
        thread.start();
    }

    /**
     * Creates {@code path} (it must not exist) and starts its writer thread.
     *
     * @param allowDirect false to write through the page cache even where direct I/O is possible
     * @param chunk       bytes per staging buffer; a positive multiple of the file system's block size for
     *                    direct I/O to be used
     * @param flushBytes  in buffered mode, bytes written between two flushes
     */
    static WriteBehind create(Path path, boolean allowDirect, int chunk, long flushBytes) throws IOException {
        if (chunk <= 0) {
            throw new IllegalArgumentException("chunk <= 0: " + chunk);
        }
        FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        FileChannel d = null;
        long block = 1;
        if (allowDirect) {
            try {
                long b = Files.getFileStore(path).getBlockSize();
                if (b > 0 && (b & (b - 1)) == 0 && chunk % b == 0) {
                    d = FileChannel.open(path, StandardOpenOption.WRITE, ExtendedOpenOption.DIRECT);
                    block = b;
                }
            } catch (IOException | UnsupportedOperationException e) {
                // No direct I/O here (tmpfs refuses O_DIRECT): the page cache path below works everywhere.
            }
        }
        return new WriteBehind(path, ch, d, chunk, block, flushBytes);
    }

    /** Whether the buffers go to the disk with direct I/O. */
    boolean direct() {
        return direct != null;
    }

    /** Appends {@code src}; may wait for a staging buffer to come back from the writer thread. */
    void write(MemorySegment src) throws IOException {
        long off = 0;
        long size = src.byteSize();
        while (off < size) {
            if (current == null) {
                current = take();
            }
            long n = Math.min(size - off, chunk - filled);
            MemorySegment.copy(src, off, current, filled, n);
            filled += (int) n;
            off += n;
            if (filled == chunk) {
                submit(current, chunk);
                current = null;
                filled = 0;
            }
        }
    }

    /** Writes what is still staged, waits for the writer thread, syncs the file and closes it. */
    void finish() throws IOException {
        if (done) {
            throw new IllegalStateException(path + ": write-behind already finished");
        }
        done = true;
        long tailStart = currentPosition;
        int aligned = (int) (filled - filled % block);
        MemorySegment last = current;
        if (last != null && aligned > 0) {
            submit(last, aligned);
        }
        stopAndJoin();
        rethrow();
        if (last != null && filled > aligned) {
            // The last partial block cannot go through direct I/O; the page cache takes it.
            writeFully(buffered, last.asSlice(aligned, filled - aligned).asByteBuffer(), tailStart + aligned);
        }
        buffered.force(true);
        close();
    }

    /** Stops the writer thread and closes the file, leaving it where it is; safe to call more than once. */
    void abort() {
        done = true;
        thread.interrupt();
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        close();
    }

    private MemorySegment take() throws IOException {
        try {
            MemorySegment b = free.poll();
            if (b == null && allocated < BUFFERS) {
                allocated++;
                return arena.allocate(chunk, Math.max(block, 64));
            }
            while (b == null && (b = free.poll(50, TimeUnit.MILLISECONDS)) == null) {
                rethrow();
                if (!thread.isAlive()) {
                    throw new IOException(path + ": writer thread stopped");
                }
            }
            return b;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(path + ": interrupted while waiting for the writer", e);
        }
    }

    private void submit(MemorySegment buffer, int length) throws IOException {
        rethrow();
        try {
            queue.put(new Job(buffer, length, currentPosition));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(path + ": interrupted while queueing a write", e);
        }
        currentPosition += length;
    }

    private void stopAndJoin() throws IOException {
        try {
            queue.put(new Job(POISON, 0, -1));
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abort();
            throw new IOException(path + ": interrupted while finishing", e);
        }
    }

    private void rethrow() throws IOException {
        Throwable f = failure;
        if (f instanceof IOException io) {
            throw new IOException(io.getMessage(), io);
        }
        if (f != null) {
            throw new IOException(path + ": writer thread failed: " + f, f);
        }
    }

    private void drain() {
        long sinceFlush = 0;
        try {
            while (true) {
                Job job = queue.take();
                if (job.buffer() == POISON) {
                    return;
                }
                MemorySegment b = job.buffer().asSlice(0, job.length());
                FileChannel ch = direct != null && job.length() % block == 0 ? direct : buffered;
                writeFully(ch, b.asByteBuffer(), job.position());
                notify("chunk");
                if (ch == buffered) {
                    sinceFlush += b.byteSize();
                    if (sinceFlush >= flushBytes) {
                        buffered.force(false);
                        sinceFlush = 0;
                        notify("flush");
                    }
                }
                free.add(job.buffer());
            }
        } catch (InterruptedException e) {
            // abort(): stop where we are
        } catch (Throwable t) {
            failure = t;
        }
    }

    private static void notify(String event) {
        Consumer<String> h = hook;
        if (h != null) {
            h.accept(event);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long at = position;
        while (b.hasRemaining()) {
            at += ch.write(b, at);
        }
    }

    private void close() {
        SafetensorsWriter.closeQuietly(direct);
        SafetensorsWriter.closeQuietly(buffered);
        if (!thread.isAlive() && arena.scope().isAlive()) {
            arena.close();
        }
    }
}
