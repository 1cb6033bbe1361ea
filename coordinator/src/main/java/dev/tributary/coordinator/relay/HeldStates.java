package dev.tributary.coordinator.relay;

import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.store.Durables;
import dev.tributary.store.ModelImage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The relay's held outer states, at most one per worker, each in one file of the relay's folder: φ's
 * safetensors bytes, δ's, then a trailer (exchange, round, sizes, SHA-256s, worker id and name) with its
 * CRC32C. A state is received into a part file, checked, then committed: trailer written, fsync, renamed
 * over the worker's previous state, folder fsynced, all before the exchange is answered. So an answered
 * exchange's state survives a kill -9, and a restart ({@link #open}) holds what the last run held (a torn
 * part file was never answered and is removed; a damaged state file is reported and set aside, never
 * served). The exchange count restarts from the highest one held (or, when that state was dropped, from
 * the count written before it went), so exchange numbers never repeat and the draws stay deterministic.
 *
 * <p>Thread-safe: commits and evictions are serialized.
 */
final class HeldStates {
    static final String SUFFIX = ".state";
    static final String PART = ".part";
    /** The exchange count as of the last dropped state (the held states carry it otherwise). */
    static final String COUNT = "exchanges";
    private static final long MAGIC = 0x5452_5354_4154_0001L; // "TRSTAT" format 1
    private static final int MAX_TRAILER = 4096;

    /**
     * One held state.
     *
     * @param graceUntilMillis restored at a start: kept until then even though its worker is not registered
     *     (yet); 0 for states committed by this run
     */
    record Held(String worker, String name, long round, long exchange, long outerBytes, long gradientBytes,
            byte[] outerSha256, byte[] gradientSha256, Path file, long graceUntilMillis) {}

    /** The answer to one commit: the exchange count and the peer drawn (null: none), opened for reading. */
    record Commit(long exchange, Held peer, FileChannel peerFile) {}

    private final Path dir;
    private final NoLoCoRelay relay;
    private final TreeMap<String, Held> held = new TreeMap<>();
    private long exchanges;

    private HeldStates(Path dir, NoLoCoRelay relay) {
        this.dir = dir;
        this.relay = relay;
    }

    /**
     * The states held in {@code dir} (created when missing); restored ones are kept until
     * {@code graceUntilMillis} unless their worker exchanges again. Damaged files are renamed
     * {@code *.damaged} and reported to {@code warn}.
     */
    static HeldStates open(Path dir, NoLoCoRelay relay, long graceUntilMillis, Consumer<String> warn) throws IOException {
        Files.createDirectories(dir);
        HeldStates s = new HeldStates(dir, relay);
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            ds.forEach(files::add);
        }
        files.sort(null);
        for (Path f : files) {
            String n = f.getFileName().toString();
            if (n.equals(COUNT)) {
                s.exchanges = Math.max(s.exchanges, readCount(f, warn));
            } else if (n.endsWith(PART) || n.equals(COUNT + ".tmp")) {
                Files.deleteIfExists(f);
            } else if (n.endsWith(SUFFIX)) {
                try {
                    Held h = read(f, graceUntilMillis);
                    s.held.put(h.worker(), h);
                    s.exchanges = Math.max(s.exchanges, h.exchange());
                } catch (IOException | RuntimeException e) {
                    Path aside = f.resolveSibling(n + ".damaged");
                    Files.move(f, aside, StandardCopyOption.REPLACE_EXISTING);
                    warn.accept("relay: held state " + f + " is damaged (" + e.getMessage() + "): set aside as " + aside);
                }
            }
        }
        return s;
    }

    /** A fresh part file to receive a state of {@code bytes} into. */
    Path partFile(String worker) {
        return dir.resolve(key(worker) + "." + Long.toHexString(System.nanoTime()) + PART);
    }

    synchronized long exchanges() {
        return exchanges;
    }

    synchronized int size() {
        return held.size();
    }

    synchronized List<Held> held() {
        return List.copyOf(held.values());
    }

    /**
     * Makes {@code part} (φ then δ, checked) the worker's held state, durably, and draws its peer among the
     * held states of other workers (other names), sorted by worker id. States of other ids under the same
     * name whose worker is gone (it registered again, e.g. after a restart) are replaced by this one.
     *
     * @param live whether a worker id is registered now
     * @param draw false to draw no peer (under {@code matching: pairs} the peer is the partner matched
     *             later: {@link #open})
     */
    synchronized Commit commit(String worker, String name, long round, Path part, long outerBytes, long gradientBytes,
            byte[] outerSha, byte[] gradientSha, java.util.function.Predicate<String> live, boolean draw) throws IOException {
        long exchange = exchanges + 1;
        Opened drawn = draw ? drawOther(worker, name, exchange) : null;
        Held peer = drawn == null ? null : drawn.held();
        FileChannel peerFile = drawn == null ? null : drawn.file();
        try {
            Held mine = new Held(worker, name, round, exchange, outerBytes, gradientBytes, outerSha, gradientSha,
                    dir.resolve(key(worker) + SUFFIX), 0);
            try (FileChannel ch = FileChannel.open(part, StandardOpenOption.WRITE)) {
                ByteBuffer t = trailer(mine);
                long at = outerBytes + gradientBytes;
                while (t.hasRemaining()) {
                    at += ch.write(t, at);
                }
                ch.force(true);
            }
            Files.move(part, mine.file(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Durables.fsyncDirectory(dir);
            exchanges = exchange;
            held.put(worker, mine);
            // A worker that registered again under the same name replaces its old state.
            List<String> replaced = new ArrayList<>();
            for (Held h : held.values()) {
                if (!h.worker().equals(worker) && h.name().equals(name) && !live.test(h.worker())) {
                    replaced.add(h.worker());
                }
            }
            for (String id : replaced) {
                drop(id);
            }
            return new Commit(exchange, peer, peerFile);
        } catch (IOException | RuntimeException e) {
            if (peerFile != null) {
                peerFile.close();
            }
            throw e;
        }
    }

    /** A held state and its file, opened for reading while it was the worker's held state. */
    record Opened(Held held, FileChannel file) {}

    /** {@code worker}'s held state with its file opened, or null when none is held (it was dropped). */
    synchronized Opened open(String worker) throws IOException {
        Held h = held.get(worker);
        return h == null ? null : new Opened(h, FileChannel.open(h.file(), StandardOpenOption.READ));
    }

    /**
     * The held state of another worker (another name) drawn for exchange {@code exchange} among them, sorted
     * by worker id, with its file opened; null when there is none.
     */
    synchronized Opened drawOther(String worker, String name, long exchange) throws IOException {
        List<Held> others = new ArrayList<>(held.size());
        for (Held h : held.values()) {
            if (!h.worker().equals(worker) && !h.name().equals(name)) {
                others.add(h);
            }
        }
        if (others.isEmpty()) {
            return null;
        }
        Held peer = others.get(relay.draw(exchange, others.size()));
        return new Opened(peer, FileChannel.open(peer.file(), StandardOpenOption.READ));
    }

    /** How many held states belong to workers registered now. */
    synchronized int live(java.util.function.Predicate<String> live) {
        int n = 0;
        for (Held h : held.values()) {
            if (live.test(h.worker())) {
                n++;
            }
        }
        return n;
    }

    /** Drops the states whose worker is not registered and whose grace has passed; returns how many. */
    synchronized int evict(java.util.function.Predicate<String> live, long nowMillis) throws IOException {
        List<String> gone = new ArrayList<>();
        for (Held h : held.values()) {
            if (!live.test(h.worker()) && nowMillis >= h.graceUntilMillis()) {
                gone.add(h.worker());
            }
        }
        for (String id : gone) {
            drop(id);
        }
        return gone.size();
    }

    private void drop(String worker) throws IOException {
        Held h = held.get(worker);
        if (h != null) {
            // The count must not go back with the state that carried it: kept apart before the state goes.
            writeCount();
            held.remove(worker);
            Files.deleteIfExists(h.file());
        }
    }

    private void writeCount() throws IOException {
        Path tmp = dir.resolve(COUNT + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap((exchanges + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(COUNT), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        Durables.fsyncDirectory(dir);
    }

    private static long readCount(Path f, Consumer<String> warn) {
        try {
            return Long.parseLong(Files.readString(f).strip());
        } catch (IOException | NumberFormatException e) {
            warn.accept("relay: exchange count " + f + " is damaged (" + e.getMessage() + "): counting from the states held");
            return 0;
        }
    }

    private static ByteBuffer trailer(Held h) {
        byte[] id = h.worker().getBytes(StandardCharsets.UTF_8);
        byte[] name = h.name().getBytes(StandardCharsets.UTF_8);
        int body = 8 * 5 + 32 + 32 + 4 + id.length + 4 + name.length;
        ByteBuffer b = ByteBuffer.allocate(body + 8);
        b.putLong(MAGIC).putLong(h.exchange()).putLong(h.round()).putLong(h.outerBytes()).putLong(h.gradientBytes())
                .put(h.outerSha256()).put(h.gradientSha256()).putInt(id.length).put(id).putInt(name.length).put(name);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, body);
        b.putInt(body).putInt((int) crc.getValue());
        return b.flip();
    }

    /** Reads and checks a state file: trailer CRC32C, sizes, and the SHA-256 of both images. */
    private static Held read(Path f, long graceUntilMillis) throws IOException {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            long size = ch.size();
            if (size < 8) {
                throw new IOException(size + " bytes: too short for a trailer");
            }
            ByteBuffer end = ByteBuffer.allocate(8);
            readFully(ch, end, size - 8);
            int body = end.flip().getInt();
            int crcValue = end.getInt();
            if (body < 8 * 5 + 64 + 8 || body > MAX_TRAILER || body > size - 8) {
                throw new IOException("trailer length " + body + " does not fit " + size + " bytes");
            }
            ByteBuffer t = ByteBuffer.allocate(body);
            readFully(ch, t, size - 8 - body);
            CRC32C crc = new CRC32C();
            crc.update(t.array(), 0, body);
            if ((int) crc.getValue() != crcValue) {
                throw new IOException("trailer CRC32C mismatch");
            }
            t.flip();
            if (t.getLong() != MAGIC) {
                throw new IOException("not a held state (magic)");
            }
            long exchange = t.getLong();
            long round = t.getLong();
            long outer = t.getLong();
            long gradient = t.getLong();
            byte[] so = new byte[32];
            byte[] sg = new byte[32];
            t.get(so).get(sg);
            String id = string(t);
            String name = string(t);
            if (outer < 0 || gradient < 0 || outer + gradient + body + 8 != size) {
                throw new IOException("sizes " + outer + " + " + gradient + " do not add up to " + size + " bytes");
            }
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 0, outer + gradient, arena);
            if (!Arrays.equals(so, ModelImage.sha256(data.asSlice(0, outer))) || !Arrays.equals(sg, ModelImage.sha256(data.asSlice(outer, gradient)))) {
                throw new IOException("SHA-256 mismatch");
            }
            return new Held(id, name, round, exchange, outer, gradient, so, sg, f, graceUntilMillis);
        }
    }

    private static String string(ByteBuffer t) throws IOException {
        int n = t.getInt();
        if (n < 0 || n > t.remaining()) {
            throw new IOException("string of " + n + " bytes in a trailer of " + t.remaining() + " left");
        }
        byte[] b = new byte[n];
        t.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long at) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, at);
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
            at += n;
        }
    }

    /** A file name for a worker id (any characters): the hex SHA-256 of the id. */
    static String key(String worker) {
        return HexFormat.of().formatHex(ModelImage.sha256(MemorySegment.ofArray(worker.getBytes(StandardCharsets.UTF_8))));
    }
}
