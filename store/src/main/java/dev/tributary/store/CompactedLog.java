package dev.tributary.store;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Keeps a log's disk use bounded (a coordinator's update log, an experience table's log). Once every checkpoint on disk lies past a prefix of the log,
 * the deltas in that prefix are never read again: recovery starts from a checkpoint and replays only what
 * follows it. What the prefix still has to answer for is which updates were accepted (a retried id is
 * acknowledged, not applied again; {@code tributary log} lists every id) and the strategy configuration in
 * force. So a compaction writes the prefix's accepted updates without their deltas (inserted experience
 * items without their payloads), and its configuration records, to a chunk file beside the log,
 * {@code updates.compacted-FROM-TO-N.log} for {@code updates.log}, N its number of records (the log's record
 * format, every record checksummed; written to a temporary file, forced, renamed, folder forced: a chunk
 * that holds other than N whole records was cut or changed since, even at a record boundary, where the
 * records' own checksums cannot tell), and only then gives the
 * prefix's disk blocks back to the file system ({@link HolePunch}): the log keeps its size and every
 * offset, so checkpoints' log positions stay valid, and reads of the prefix give zeros.
 *
 * <p>Chunks cover {@code [0, TO)} of the log without gaps, in order. A crash after a chunk's rename and
 * before the punch leaves a chunk whose bytes are also still in the log: harmless, the next compaction
 * punches them. A missing, damaged or out-of-order chunk is reported and nothing starts.
 */
public final class CompactedLog {
    private static final String INFIX = ".compacted-";
    /** The granularity holes are punched at; a partial block before the compacted end stays on disk. */
    static final long BLOCK = 4096;

    private CompactedLog() {}

    /**
     * One chunk: the log's records in {@code [from, to)} without their deltas, {@code records} of them (−1 for a
     * chunk named without its count, as the first release of compaction wrote them: not checked).
     */
    public record Chunk(Path file, long from, long to, long records) {}

    /** File name prefix of {@code log}'s chunks: its name without {@code .log}, then {@code .compacted-}. */
    static String prefix(Path log) {
        String n = log.getFileName().toString();
        return (n.endsWith(".log") ? n.substring(0, n.length() - 4) : n) + INFIX;
    }

    private static Path dir(Path log) {
        return log.toAbsolutePath().getParent();
    }

    /**
     * The chunks of {@code log}, in order.
     *
     * @throws LogCorruptException when they do not cover {@code [0, end)} without a gap or an overlap
     */
    public static List<Chunk> chunks(Path log) throws IOException {
        Chain chain = chain(log);
        if (!chain.gaps().isEmpty()) {
            Gap g = chain.gaps().getFirst();
            throw new LogCorruptException(g.next(), 0, 0, "the compacted log's chunks do not follow each other: expected"
                    + " one starting at offset " + g.from() + ", found " + g.next().getFileName());
        }
        return chain.chunks();
    }

    /** Log offsets {@code [from, to)} that no chunk covers, before the chunk file {@code next}. */
    private record Gap(long from, long to, Path next) {}

    /** The chunks in order, and the gaps between them (a chunk file lost or deleted). */
    private record Chain(List<Chunk> chunks, List<Gap> gaps) {}

    private static Chain chain(Path log) throws IOException {
        List<Chunk> out = listed(log);
        // Widest first among those starting at one offset: a merged chunk comes before the ones it replaced,
        // which a crash during the merge may have left behind; those lie inside it and are passed over.
        out.sort(Comparator.comparingLong(Chunk::from).thenComparing(Comparator.comparingLong(Chunk::to).reversed()));
        List<Chunk> chain = new ArrayList<>();
        List<Gap> gaps = new ArrayList<>();
        long at = 0;
        for (Chunk c : out) {
            if (c.to() <= at && c.from() < at) {
                continue; // inside a merged chunk
            }
            if (c.from() < at || c.to() <= c.from()) {
                throw new LogCorruptException(c.file(), 0, 0, "the compacted log's chunks overlap: expected one starting at"
                        + " offset " + at + ", found " + c.file().getFileName());
            }
            if (c.from() > at) {
                gaps.add(new Gap(at, c.from(), c.file()));
            }
            chain.add(c);
            at = c.to();
        }
        return new Chain(chain, gaps);
    }

    /** What {@link #restoreGaps} wrote in place of a missing chunk. */
    public record Restored(Chunk chunk, long records, boolean fromLog) {}

    /**
     * The explicit repair of missing chunks (a chunk file deleted or lost), never run by itself: each range of
     * the log that no chunk covers gets its chunk again, compacted once more from the log's own bytes where
     * they are still there (the crash came before the punch, or the file system cannot punch holes), else as a
     * chunk holding one {@link Salvaged} record: what the lost chunk held (accepted ids, configurations) is
     * gone, and recovery, told by that record, does not expect it.
     */
    public static List<Restored> restoreGaps(Path log) throws IOException {
        List<Restored> out = new ArrayList<>();
        for (Gap g : chain(log).gaps()) {
            long at = g.from();
            while (at < g.to()) {
                Compacted c;
                try {
                    c = compactFrom(log, at, g.to());
                } catch (LogCorruptException | IllegalArgumentException e) {
                    c = null; // zeros where the blocks were given back, or bytes that are not whole records
                }
                if (c == null) {
                    Chunk lost = chunk(log, at, g.to(), 1);
                    Path tmp = tmp(log, at);
                    writeForced(tmp, sink -> {
                        sink.put(new Salvaged(LogCodec.HEADER + 1));
                        return null;
                    });
                    Files.move(tmp, lost.file(), StandardCopyOption.ATOMIC_MOVE);
                    Durables.fsyncDirectory(dir(log));
                    out.add(new Restored(lost, 0, false));
                    break;
                }
                out.add(new Restored(c.chunk(), c.records(), true));
                at = c.chunk().to();
            }
        }
        return out;
    }

    /** Every chunk file of {@code log} in its folder, in no order. */
    private static List<Chunk> listed(Path log) throws IOException {
        List<Chunk> out = new ArrayList<>();
        Path dir = dir(log);
        if (!Files.isDirectory(dir)) {
            return out;
        }
        Pattern name = Pattern.compile(Pattern.quote(prefix(log)) + "(\\d{16})-(\\d{16})(?:-(\\d{1,18}))?\\.log");
        try (Stream<Path> s = Files.list(dir)) {
            s.forEach(p -> {
                Matcher m = name.matcher(p.getFileName().toString());
                if (m.matches()) {
                    out.add(new Chunk(p, Long.parseLong(m.group(1)), Long.parseLong(m.group(2)),
                            m.group(3) == null ? -1 : Long.parseLong(m.group(3))));
                }
            });
        }
        return out;
    }

    /** The chunk of {@code log} covering {@code [from, to)} with {@code records} records, named as {@link #listed} reads it. */
    private static Chunk chunk(Path log, long from, long to, long records) {
        return new Chunk(dir(log).resolve(String.format("%s%016d-%016d-%d.log", prefix(log), from, to, records)), from, to,
                records);
    }

    /**
     * Renames chunk {@code c} after the number of records it now holds (the salvage changed them), atomically;
     * the folder is forced.
     */
    static Chunk recount(Chunk c, Path log, long records) throws IOException {
        Chunk renamed = chunk(log, c.from(), c.to(), records);
        if (!renamed.equals(c)) {
            Files.move(c.file(), renamed.file(), StandardCopyOption.ATOMIC_MOVE);
            Durables.fsyncDirectory(dir(log));
        }
        return renamed;
    }

    /** Chunk files of {@code log} that a merged chunk replaced (left by a crash during the merge). */
    private static List<Path> replaced(Path log) throws IOException {
        List<Chunk> chain = chunks(log);
        return listed(log).stream().filter(c -> !chain.contains(c)).map(Chunk::file).toList();
    }

    /** Where a record goes in a chunk being written. */
    @FunctionalInterface
    private interface RecordSink {
        void put(LogRecord r) throws IOException;
    }

    /** The records a chunk's body writes, and what the body returns. */
    @FunctionalInterface
    private interface ChunkBody<T> {
        T write(RecordSink sink) throws IOException;
    }

    /**
     * Writes the records {@code body} puts into the temporary chunk file {@code tmp} and forces it; the file is
     * deleted when anything fails. Returns what the body returned.
     */
    private static <T> T writeForced(Path tmp, ChunkBody<T> body) throws IOException {
        try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            T result = body.write(r -> {
                ByteBuffer b = LogCodec.encode(r).seal().head();
                while (b.hasRemaining()) {
                    out.write(b);
                }
            });
            out.force(true);
            return result;
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** The temporary file a chunk starting at {@code from} is written to before its rename. */
    private static Path tmp(Path log, long from) {
        return dir(log).resolve(String.format("%s%016d.log.tmp", prefix(log), from));
    }

    /** Where the compacted part of {@code log} ends: the log is read from here on; 0 when none is. */
    public static long end(Path log) throws IOException {
        List<Chunk> all = chunks(log);
        return all.isEmpty() ? 0 : all.getLast().to();
    }

    /**
     * Visits the records of every chunk, in order; each is given the range of the log its chunk replaced.
     *
     * @throws LogCorruptException when a chunk is damaged or cut short (chunks are written whole)
     */
    public static void scan(Path log, LogScan.Visitor visitor) throws IOException {
        for (Chunk c : chunks(log)) {
            scan(c, visitor);
        }
    }

    private static void scan(Chunk c, LogScan.Visitor visitor) throws IOException {
        if (!Files.exists(c.file())) {
            throw new java.nio.file.NoSuchFileException(c.file().toString(), null, "a compacted chunk of the log is missing");
        }
        LogScan.Result r = LogScan.scan(c.file(), 0, Long.MAX_VALUE, (start, end, rec) -> visitor.record(c.from(), c.to(), rec));
        if (r.tornReason() != null) {
            throw new LogCorruptException(c.file(), r.validEnd(), r.records(), "a compacted chunk ends inside a record: "
                    + r.tornReason());
        }
        if (c.records() >= 0 && r.records() != c.records()) {
            throw new LogCorruptException(c.file(), r.validEnd(), r.records(), "a compacted chunk holds " + r.records()
                    + " records where its name says " + c.records() + ": it was cut short or changed");
        }
    }

    /**
     * Visits every record of {@code log} in order: its compacted part from the chunks, then the log after them.
     * Safe while the log's owner runs and compacts: a compaction that gives back blocks this read was about to
     * read makes it start again ({@code restart} is told, to forget what it collected), up to a few times.
     *
     * @throws LogCorruptException when a record is damaged
     */
    public static void scanAll(Path log, Runnable restart, LogScan.Visitor visitor) throws IOException {
        for (int attempt = 0; ; attempt++) {
            List<Chunk> chain = chunks(log);
            long end = chain.isEmpty() ? 0 : chain.getLast().to();
            try {
                for (Chunk c : chain) {
                    scan(c, visitor);
                }
                LogScan.scan(log, end, Long.MAX_VALUE, visitor);
                return;
            } catch (LogCorruptException | java.nio.file.NoSuchFileException e) {
                // Zeros where a step just punched, or a chunk a fold just deleted: the owner moved on; read again.
                if (attempt >= 4 || chunks(log).equals(chain)) {
                    throw e;
                }
                restart.run();
            }
        }
    }

    /** What a compaction did. */
    public record Compacted(Chunk chunk, long records, boolean punched) {}

    /** The most log bytes one compaction step reads (plus one record): a step's chunk covers about this much. */
    public static final long STEP_BYTES = 1L << 30;

    /**
     * Compacts {@code log} up to {@code upTo} (a record boundary before which nothing is read again: the
     * smallest log position of the checkpoints on disk), in one step of about {@link #STEP_BYTES} at most: a
     * long way to go takes several calls. Does nothing (and returns null) unless at least {@code minBytes}
     * would be compacted.
     *
     * @return what was done (its chunk's end is {@code upTo} or short of it); {@link Compacted#punched} is false
     *     where the file system cannot punch holes (the chunk is written all the same, so the next compaction
     *     continues after it)
     */
    public static Compacted compact(Path log, long upTo, long minBytes) throws IOException {
        long from = end(log);
        if (upTo - from < Math.max(1, minBytes)) {
            return null;
        }
        return compactFrom(log, from, upTo);
    }

    /** One compaction step of {@code [from, upTo)}: the chunk from {@code from}, then the hole up to its end. */
    private static Compacted compactFrom(Path log, long from, long upTo) throws IOException {
        Path dir = dir(log);
        Path tmp = tmp(log, from);
        long[] records = {0};
        long to = writeForced(tmp, sink -> {
            long reached = LogScan.scanRange(log, from, upTo, from + STEP_BYTES, (start, end, rec) -> {
                LogRecord kept = switch (rec) {
                    case AcceptedUpdate a -> new AcceptedUpdate(a.updateId(), a.workerId(), a.baseVersion(), a.examples(),
                            a.localSteps(), a.metrics(), a.version(), a.staleness(), MemorySegment.NULL);
                    case StrategyConfig c -> c;
                    case ExperienceInserted x -> new ExperienceInserted(x.id(), x.policyVersion(), x.priority(),
                            MemorySegment.NULL);
                    default -> null; // deadlines, samples, removals and salvaged bytes mean nothing before a checkpoint
                };
                if (kept != null) {
                    sink.put(kept);
                    records[0]++;
                }
            });
            Failpoints.hit("compact.write");
            return reached;
        });
        Chunk chunk = chunk(log, from, to, records[0]);
        Failpoints.hit("compact.rename");
        Files.move(tmp, chunk.file(), StandardCopyOption.ATOMIC_MOVE);
        Durables.fsyncDirectory(dir);
        Failpoints.hit("compact.renamed");
        boolean punched = HolePunch.punch(log, 0, to / BLOCK * BLOCK);
        Failpoints.hit("compact.punched");
        return new Compacted(chunk, records[0], punched);
    }

    /**
     * Removes what a crash left behind: a temporary chunk (never renamed, so nothing refers to it) and chunks
     * a merged chunk already replaced.
     */
    public static void removeLeftovers(Path log) throws IOException {
        Path dir = dir(log);
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(prefix(log)) && n.endsWith(".log.tmp")) {
                    Files.deleteIfExists(p);
                }
            }
        }
        for (Path p : replaced(log)) {
            Files.deleteIfExists(p);
        }
    }

    /** What {@link #compactAll} did: steps taken, log bytes compacted, and whether every step punched its hole. */
    public record Progress(int steps, long bytes, boolean punched) {}

    /**
     * Compacts {@code log} up to {@code upTo} in as many steps as it takes (once at least {@code minBytes} can
     * go), checking {@code stopping} before each, then folds the chunks when there are too many ({@link #merge}).
     */
    public static Progress compactAll(Path log, long upTo, long minBytes, java.util.function.BooleanSupplier stopping)
            throws IOException {
        int steps = 0;
        long bytes = 0;
        boolean punched = true;
        long min = minBytes;
        for (Compacted c; upTo > 0 && !stopping.getAsBoolean() && (c = compact(log, upTo, min)) != null; ) {
            steps++;
            bytes += c.chunk().to() - c.chunk().from();
            punched &= c.punched();
            min = 1; // once started, the steps go on up to upTo
        }
        merge(log);
        return new Progress(steps, bytes, punched);
    }

    /** Chunks kept before {@link #merge} folds them into one. */
    public static final int MAX_CHUNKS = 16;

    /**
     * Folds the chunks of {@code log} into one when there are more than {@link #MAX_CHUNKS}, so that their
     * number stays bounded: the merged chunk (every record of the chunks, checked, in order) is written
     * atomically under the name of the whole range, then the chunks it replaces are deleted. A crash in
     * between leaves both, and the merged one wins ({@link #chunks}).
     *
     * @return whether a merge was done
     */
    public static boolean merge(Path log) throws IOException {
        List<Chunk> all = chunks(log);
        if (all.size() <= MAX_CHUNKS) {
            return false;
        }
        Path dir = dir(log);
        Path tmp = tmp(log, 0);
        long records = writeForced(tmp, sink -> {
            long[] n = {0};
            scan(log, (start, end, rec) -> {
                sink.put(rec);
                n[0]++;
            });
            return n[0];
        });
        Path target = chunk(log, 0, all.getLast().to(), records).file();
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        Durables.fsyncDirectory(dir);
        Failpoints.hit("compact.merged");
        for (Chunk c : all) {
            Files.deleteIfExists(c.file());
        }
        Durables.fsyncDirectory(dir);
        return true;
    }
}
