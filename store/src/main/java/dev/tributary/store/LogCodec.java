package dev.tributary.store;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The log's record layout, little-endian: {@code magic u32 | payload length u64 | CRC32C(payload) u32 |
 * payload}, the payload starting with a type byte:
 * <ul>
 *   <li>1, an accepted update: {@code update id | worker id | base version i64 | examples i64 | local steps
 *       i32 | metric count u16, (name, value f64)… | version i64 | staleness i64 | delta length i64 | delta};</li>
 *   <li>2, a round deadline passed: {@code version i64};</li>
 *   <li>3, the strategy configuration: {@code strategy | yaml} (the YAML as a u32 length + UTF-8);</li>
 *   <li>4, damaged bytes replaced by a salvage: zeros to the record's end;</li>
 *   <li>5, an experience item inserted: {@code id | policy version i64 | priority f64 | payload length i64 |
 *       payload};</li>
 *   <li>6, experience items removed: {@code cause u8 (0 removed, 1 evicted) | count u32 | id…};</li>
 *   <li>7, experience sampled: {@code count i64}.</li>
 * </ul>
 * Strings are u16 length + UTF-8. Other record types are refused, so that a newer log is never misread.
 */
final class LogCodec {
    static final int MAGIC = 0x31425254; // "TRB1" read as little-endian bytes
    static final int HEADER = 16;
    static final byte ACCEPTED = 1;
    static final byte DEADLINE = 2;
    static final byte CONFIG = 3;
    static final byte SALVAGED = 4;
    static final byte INSERTED = 5;
    static final byte REMOVED = 6;
    static final byte SAMPLED = 7;
    /** Most ids one removal record can hold. */
    static final int MAX_REMOVED_IDS = 1 << 16;
    /** Longest string field the layout can hold, in UTF-8 bytes. */
    static final int MAX_STRING = 0xFFFF;
    /** Most metrics one record can hold. */
    static final int MAX_METRICS = 0xFFFF;
    static final int MAX_CONFIG = 1 << 20;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private LogCodec() {}

    /**
     * A record ready to write: the header and fixed fields in {@code head}, the delta (if any) after it.
     * The checksum is computed by {@link #seal} (on the writer thread), after which nothing may change.
     */
    static final class Encoded {
        private final ByteBuffer head;
        private final MemorySegment tail;
        private final long size;
        private final int versionAt;
        private boolean sealed;

        Encoded(ByteBuffer head, MemorySegment tail, int versionAt) {
            this.head = head;
            this.tail = tail;
            this.size = head.capacity() + tail.byteSize();
            this.versionAt = versionAt;
        }

        ByteBuffer head() {
            return head;
        }

        MemorySegment tail() {
            return tail;
        }

        long size() {
            return size;
        }

        /** Sets the version field of an accepted update's record (known only once the strategy decided). */
        void version(long v) {
            if (versionAt < 0 || sealed) {
                throw new IllegalStateException(sealed ? "record already sealed" : "record has no version field");
            }
            head.putLong(versionAt, v);
        }

        /** Computes the header's length and checksum; idempotent. */
        Encoded seal() {
            if (!sealed) {
                CRC32C crc = new CRC32C();
                crc.update(head.array(), HEADER, head.capacity() - HEADER);
                ModelImage.forEachBuffer(tail, crc::update);
                head.putInt(0, MAGIC).putLong(4, size - HEADER).putInt(12, (int) crc.getValue());
                head.position(0);
                sealed = true;
            }
            return this;
        }
    }

    /**
     * Encodes a record; an accepted update's version field may be set afterwards with
     * {@link Encoded#version}.
     *
     * @throws IllegalArgumentException when a field does not fit the layout (callers bound every field
     *     before: see the validator)
     */
    static Encoded encode(LogRecord record) {
        return switch (record) {
            case AcceptedUpdate a -> accepted(a);
            case DeadlinePassed d -> {
                ByteBuffer b = ByteBuffer.allocate(HEADER + 1 + 8).order(ByteOrder.LITTLE_ENDIAN);
                b.position(HEADER);
                b.put(DEADLINE).putLong(d.version());
                yield new Encoded(b, MemorySegment.NULL, -1);
            }
            case Salvaged x -> {
                if (x.bytes() < HEADER + 1 || x.bytes() > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("salvaged record of " + x.bytes() + " bytes");
                }
                ByteBuffer b = ByteBuffer.allocate((int) x.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                b.position(HEADER);
                b.put(SALVAGED);
                yield new Encoded(b, MemorySegment.NULL, -1);
            }
            case StrategyConfig c -> {
                byte[] name = utf8(c.strategy(), "strategy", MAX_STRING);
                byte[] yaml = utf8(c.yaml(), "strategy configuration", MAX_CONFIG);
                ByteBuffer b = ByteBuffer.allocate(HEADER + 1 + 2 + name.length + 4 + yaml.length).order(ByteOrder.LITTLE_ENDIAN);
                b.position(HEADER);
                b.put(CONFIG).putShort((short) name.length).put(name).putInt(yaml.length).put(yaml);
                yield new Encoded(b, MemorySegment.NULL, -1);
            }
            case ExperienceRecord x -> ExperienceCodec.encode(x);
        };
    }

    private static Encoded accepted(AcceptedUpdate a) {
        byte[] id = utf8(a.updateId(), "update id", MAX_STRING);
        byte[] worker = utf8(a.workerId(), "worker id", MAX_STRING);
        int size = HEADER + 1 + 2 + id.length + 2 + worker.length + 8 + 8 + 4 + 2 + 8 + 8 + 8;
        Map<byte[], Double> metrics = new LinkedHashMap<>();
        if (a.metrics().size() > MAX_METRICS) {
            throw new IllegalArgumentException("metrics: " + a.metrics().size() + " entries > " + MAX_METRICS);
        }
        for (Map.Entry<String, Double> e : a.metrics().entrySet()) {
            byte[] k = utf8(e.getKey(), "metric name", MAX_STRING);
            metrics.put(k, e.getValue());
            size += 2 + k.length + 8;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.position(HEADER);
        b.put(ACCEPTED);
        b.putShort((short) id.length).put(id);
        b.putShort((short) worker.length).put(worker);
        b.putLong(a.baseVersion()).putLong(a.examples()).putInt(a.localSteps());
        b.putShort((short) metrics.size());
        metrics.forEach((k, v) -> b.putShort((short) k.length).put(k).putDouble(v));
        int versionAt = b.position();
        b.putLong(a.version()).putLong(a.staleness());
        b.putLong(a.delta().byteSize());
        return new Encoded(b, a.delta(), versionAt);
    }

    static byte[] utf8(String s, String what, int max) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > max) {
            throw new IllegalArgumentException(what + ": " + b.length + " bytes > " + max);
        }
        return b;
    }

    /** Why the bytes at a position are not a whole, intact record. */
    static final class Invalid extends Exception {
        /** True when the bytes end before the record does: what a write cut short leaves. */
        final boolean incomplete;

        Invalid(String message, boolean incomplete) {
            super(message, null, false, false);
            this.incomplete = incomplete;
        }

        Invalid(String message) {
            this(message, false);
        }
    }

    /** Total size of the record at {@code at}, after checking its header fits in {@code log}. */
    static long recordSize(MemorySegment log, long at) throws Invalid {
        long left = log.byteSize() - at;
        if (left < HEADER) {
            throw new Invalid(left + " bytes left, less than a record header", true);
        }
        if (log.get(I32, at) != MAGIC) {
            throw new Invalid("no record magic");
        }
        long payload = log.get(I64, at + 4);
        if (payload < 1) {
            throw new Invalid("payload length " + payload);
        }
        if (payload > left - HEADER) {
            throw new Invalid("payload length " + payload + " but " + (left - HEADER) + " bytes left", true);
        }
        return HEADER + payload;
    }

    /** Checks the CRC of the record at {@code at} of total size {@code size}. */
    static void verify(MemorySegment log, long at, long size) throws Invalid {
        int crc = ModelImage.crc32c(log.asSlice(at + HEADER, size - HEADER));
        if (crc != log.get(I32, at + 12)) {
            throw new Invalid("CRC32C mismatch");
        }
    }

    /** Parses the payload of a record already bounded by {@link #recordSize}; a delta is a view. */
    static LogRecord decode(MemorySegment log, long at, long size) throws Invalid {
        Reader r = new Reader(log, at + HEADER, at + size);
        byte type = r.u8();
        LogRecord out = switch (type) {
            case ACCEPTED -> acceptedUpdate(r);
            case DEADLINE -> {
                long v = r.i64();
                if (v < 0) {
                    throw new Invalid("deadline record for version " + v);
                }
                yield new DeadlinePassed(v);
            }
            case CONFIG -> {
                String name = r.string();
                int n = r.i32();
                if (n < 0 || n > MAX_CONFIG) {
                    throw new Invalid("strategy configuration of " + n + " bytes");
                }
                yield new StrategyConfig(name, new String(r.bytes(n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
            case SALVAGED -> {
                r.bytes(size - HEADER - 1);
                yield new Salvaged(size);
            }
            case INSERTED, REMOVED, SAMPLED -> ExperienceCodec.decode(type, r);
            default -> throw new Invalid("unknown record type " + type);
        };
        r.end();
        return out;
    }

    private static AcceptedUpdate acceptedUpdate(Reader r) throws Invalid {
        String id = r.string();
        String worker = r.string();
        long base = r.i64();
        long examples = r.i64();
        int steps = r.i32();
        int n = Short.toUnsignedInt(r.i16());
        Map<String, Double> metrics = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            metrics.put(r.string(), r.f64());
        }
        long version = r.i64();
        long staleness = r.i64();
        long deltaLength = r.i64();
        MemorySegment delta = r.bytes(deltaLength);
        return new AcceptedUpdate(id, worker, base, examples, steps, metrics, version, staleness, delta);
    }

    static final class Reader {
        private final MemorySegment s;
        private long at;
        private final long end;

        Reader(MemorySegment s, long at, long end) {
            this.s = s;
            this.at = at;
            this.end = end;
        }

        private void need(long n) throws Invalid {
            if (n < 0 || n > end - at) {
                throw new Invalid("payload field of " + n + " bytes runs past the record");
            }
        }

        byte u8() throws Invalid {
            need(1);
            return s.get(ValueLayout.JAVA_BYTE, at++);
        }

        short i16() throws Invalid {
            need(2);
            short v = s.get(I16, at);
            at += 2;
            return v;
        }

        int i32() throws Invalid {
            need(4);
            int v = s.get(I32, at);
            at += 4;
            return v;
        }

        long i64() throws Invalid {
            need(8);
            long v = s.get(I64, at);
            at += 8;
            return v;
        }

        double f64() throws Invalid {
            need(8);
            double v = s.get(F64, at);
            at += 8;
            return v;
        }

        String string() throws Invalid {
            int n = Short.toUnsignedInt(i16());
            need(n);
            byte[] b = s.asSlice(at, n).toArray(ValueLayout.JAVA_BYTE);
            at += n;
            return new String(b, StandardCharsets.UTF_8);
        }

        MemorySegment bytes(long n) throws Invalid {
            need(n);
            MemorySegment v = s.asSlice(at, n);
            at += n;
            return v;
        }

        void end() throws Invalid {
            if (at != end) {
                throw new Invalid((end - at) + " unread bytes at the end of the record");
            }
        }
    }
}
