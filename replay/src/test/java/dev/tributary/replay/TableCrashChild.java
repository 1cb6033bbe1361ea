package dev.tributary.replay;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The process {@link TableCrashTest} kills: writers insert their items in order, appending each
 * acknowledged id to their file, and after a restart resume a few items before the last one recorded (a
 * restarted actor retries what it has no acknowledgment for, and a little more); a consumer samples and removes, appending each durable removal; a checkpointer checkpoints
 * with a caller state. With no quota, exits 0 once every writer is done.
 *
 * <p>Arguments: table folder, acknowledgment folder, writers, items per writer, and the most new items a
 * writer inserts in this run (0: all; otherwise the process goes on sampling, removing and checkpointing
 * until it is stopped), so that every run has work whatever the machine's speed.
 */
public final class TableCrashChild {
    static final TableConfig CONFIG = TableConfig.uniformReplay(150, 1, 5);
    static final int RETRIED = 20;
    static final int WINDOW = 8;

    private TableCrashChild() {}

    static String id(int writer, int i) {
        return "w" + writer + "-" + i;
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path acks = Path.of(args[1]);
        int writers = Integer.parseInt(args[2]);
        int items = Integer.parseInt(args[3]);
        int quota = Integer.parseInt(args[4]);
        Table t = Table.open(dir, CONFIG, w -> System.err.println("warning: " + w));
        AtomicLong acked = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
            int writer = w;
            threads.add(Thread.ofPlatform().start(() -> {
                Path file = acks.resolve("acks-" + writer);
                try (OutputStream out = new FileOutputStream(file.toFile(), true)) {
                    // Up to WINDOW inserts in flight, acknowledged in order.
                    ArrayDeque<CompletableFuture<String>> inFlight = new ArrayDeque<>();
                    int from = resumeAt(file);
                    int to = quota == 0 ? items : Math.min(items, from + RETRIED + quota);
                    for (int i = from; i < to || !inFlight.isEmpty(); i++) {
                        if (i < to) {
                            String id = id(writer, i);
                            inFlight.add(t.insert(id, i, TestItems.payload(id.hashCode(), 32 + (i * 37) % 2000), 1 + i % 5)
                                    .thenApply(fresh -> id + " " + fresh + "\n"));
                        }
                        if (inFlight.size() >= WINDOW || i >= to) {
                            out.write(inFlight.poll().join().getBytes(StandardCharsets.UTF_8));
                            acked.incrementAndGet();
                        }
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }));
        }
        Thread consumer = Thread.ofPlatform().start(() -> {
            try (OutputStream out = new FileOutputStream(acks.resolve("removed").toFile(), true)) {
                while (!done.get()) {
                    List<String> ids = t.sample(3, Duration.ofMillis(20)).stream().map(Item::id).distinct().toList();
                    t.remove(ids).join();
                    for (String id : ids) {
                        out.write((id + "\n").getBytes(StandardCharsets.UTF_8));
                    }
                    Thread.sleep(15);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        Thread checkpointer = Thread.ofPlatform().start(() -> {
            try {
                while (!done.get()) {
                    Thread.sleep(120);
                    t.checkpoint(callerState(acked.get()));
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        for (Thread th : threads) {
            th.join();
        }
        if (quota > 0) {
            Thread.sleep(Long.MAX_VALUE); // sampling, removing and checkpointing go on until the process is stopped
        }
        done.set(true);
        consumer.join();
        checkpointer.join();
        t.checkpoint(callerState(acked.get()).putMetadata("final", "true"));
        t.close();
        System.exit(0);
    }

    /**
     * Where a writer resumes: a few items before the last one it recorded as acknowledged, so that retries
     * of acknowledged items and of items whose acknowledgment the kill swallowed both happen.
     */
    static int resumeAt(Path file) throws IOException {
        List<String> lines = TableCrashTest.lines(file);
        long whole = lines.stream().mapToLong(l -> l.getBytes(StandardCharsets.UTF_8).length + 1).sum();
        if (Files.exists(file) && Files.size(file) > whole) {
            // A line the kill cut short is dropped, so that the next one starts on its own.
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(whole);
            }
        }
        return Math.max(0, lines.size() - RETRIED);
    }

    static TensorMap callerState(long acked) {
        Tensor progress = Tensor.allocate(DType.I64, new long[] {1}, Arena.ofAuto());
        progress.data().set(Tensor.I64_LE, 0, acked);
        return new TensorMap().put("progress", progress).putMetadata("acked", Long.toString(acked));
    }
}
