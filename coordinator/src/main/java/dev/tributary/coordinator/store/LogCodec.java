package dev.tributary.coordinator.store;

import dev.tributary.coordinator.model.ModelImage;
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
 * payload}. An accepted update's payload is {@code type u8 = 1 | update id | worker id | base version i64
 * | examples i64 | local steps i32 | metric count u16, (name, value f64)… | version i64 | staleness i64
 * | delta length i64 | delta};
 * strings are u16 length + UTF-8. Other record types are refused, so that a newer log is never misread.
 */
final class LogCodec {
    static final int MAGIC = 0x31425254; // "TRB1" read as little-endian bytes
    static final int HEADER = 16;
    static final byte ACCEPTED = 1;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private LogCodec() {}

    /** A record ready to write: the header and fixed fields in {@code head}, the delta (if any) after it. */
    record Encoded(ByteBuffer head, MemorySegment tail, long size) {}

    static Encoded encode(AcceptedUpdate a) {
        byte[] id = utf8(a.updateId(), "update id");
        byte[] worker = utf8(a.workerId(), "worker id");
        int size = HEADER + 1 + 2 + id.length + 2 + worker.length + 8 + 8 + 4 + 2 + 8 + 8 + 8;
        Map<byte[], Double> metrics = new LinkedHashMap<>();
        if (a.metrics().size() > 0xFFFF) {
            throw new IllegalArgumentException("metrics: " + a.metrics().size() + " entries > 65535");
        }
        for (Map.Entry<String, Double> e : a.metrics().entrySet()) {
            byte[] k = utf8(e.getKey(), "metric name");
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
        b.putLong(a.version()).putLong(a.staleness());
        b.putLong(a.delta().byteSize());
        return finish(b, a.delta());
    }

    private static Encoded finish(ByteBuffer b, MemorySegment tail) {
        long payload = b.capacity() - HEADER + tail.byteSize();
        CRC32C crc = new CRC32C();
        crc.update(b.array(), HEADER, b.capacity() - HEADER);
        ModelImage.forEachBuffer(tail, crc::update);
        b.putInt(0, MAGIC).putLong(4, payload).putInt(12, (int) crc.getValue());
        b.position(0);
        return new Encoded(b, tail, HEADER + payload);
    }

    private static byte[] utf8(String s, String what) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length > 0xFFFF) {
            throw new IllegalArgumentException(what + ": " + b.length + " bytes > 65535");
        }
        return b;
    }

    /** Why the bytes at a position are not a whole, intact record. */
    static final class Invalid extends Exception {
        Invalid(String message) {
            super(message, null, false, false);
        }
    }

    /** Total size of the record at {@code at}, after checking its header fits in {@code log}. */
    static long recordSize(MemorySegment log, long at) throws Invalid {
        long left = log.byteSize() - at;
        if (left < HEADER) {
            throw new Invalid(left + " bytes left, less than a record header");
        }
        if (log.get(I32, at) != MAGIC) {
            throw new Invalid("no record magic");
        }
        long payload = log.get(I64, at + 4);
        if (payload < 1 || payload > left - HEADER) {
            throw new Invalid("payload length " + payload + " but " + (left - HEADER) + " bytes left");
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

    /** Parses the payload of a record already bounded by {@link #recordSize}; the delta is a view. */
    static AcceptedUpdate decode(MemorySegment log, long at, long size) throws Invalid {
        Reader r = new Reader(log, at + HEADER, at + size);
        byte type = r.u8();
        if (type != ACCEPTED) {
            throw new Invalid("unknown record type " + type);
        }
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
        r.end();
        return new AcceptedUpdate(id, worker, base, examples, steps, metrics, version, staleness, delta);
    }

    private static final class Reader {
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
