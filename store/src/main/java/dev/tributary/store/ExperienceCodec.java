package dev.tributary.store;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** The layouts of the experience records (types 5 to 7), described in {@link LogCodec}. */
final class ExperienceCodec {
    private ExperienceCodec() {}

    static LogCodec.Encoded encode(ExperienceRecord record) {
        return switch (record) {
            case ExperienceInserted x -> {
                checkPriority(x.priority());
                byte[] id = LogCodec.utf8(x.id(), "item id", LogCodec.MAX_STRING);
                ByteBuffer b = buffer(1 + 2 + id.length + 8 + 8 + 8);
                b.put(LogCodec.INSERTED).putShort((short) id.length).put(id);
                b.putLong(x.policyVersion()).putDouble(x.priority()).putLong(x.payload().byteSize());
                yield new LogCodec.Encoded(b, x.payload(), -1);
            }
            case ExperienceRemoved x -> {
                if (x.ids().size() > LogCodec.MAX_REMOVED_IDS) {
                    throw new IllegalArgumentException("removed ids: " + x.ids().size() + " > " + LogCodec.MAX_REMOVED_IDS);
                }
                List<byte[]> ids = new ArrayList<>(x.ids().size());
                long size = 1 + 1 + 4;
                for (String id : x.ids()) {
                    byte[] b = LogCodec.utf8(id, "item id", LogCodec.MAX_STRING);
                    ids.add(b);
                    size += 2 + b.length;
                }
                if (size > Integer.MAX_VALUE - LogCodec.HEADER) {
                    throw new IllegalArgumentException("removal record of " + size + " bytes");
                }
                ByteBuffer b = buffer((int) size);
                b.put(LogCodec.REMOVED).put((byte) x.cause().ordinal()).putInt(ids.size());
                ids.forEach(id -> b.putShort((short) id.length).put(id));
                yield new LogCodec.Encoded(b, MemorySegment.NULL, -1);
            }
            case ExperienceSampled x -> {
                ByteBuffer b = buffer(1 + 8);
                b.put(LogCodec.SAMPLED).putLong(x.count());
                yield new LogCodec.Encoded(b, MemorySegment.NULL, -1);
            }
        };
    }

    private static ByteBuffer buffer(int payload) {
        ByteBuffer b = ByteBuffer.allocate(LogCodec.HEADER + payload).order(ByteOrder.LITTLE_ENDIAN);
        b.position(LogCodec.HEADER);
        return b;
    }

    private static void checkPriority(double p) {
        if (!(p >= 0) || !Double.isFinite(p)) {
            throw new IllegalArgumentException("priority " + p + ": must be finite and >= 0");
        }
    }

    /** Parses the fields after the type byte; a payload is a view. */
    static ExperienceRecord decode(byte type, LogCodec.Reader r) throws LogCodec.Invalid {
        switch (type) {
            case LogCodec.INSERTED -> {
                String id = r.string();
                long version = r.i64();
                double priority = r.f64();
                if (!(priority >= 0) || !Double.isFinite(priority)) {
                    throw new LogCodec.Invalid("item " + id + " has priority " + priority);
                }
                return new ExperienceInserted(id, version, priority, r.bytes(r.i64()));
            }
            case LogCodec.REMOVED -> {
                byte cause = r.u8();
                if (cause < 0 || cause >= ExperienceRemoved.Cause.values().length) {
                    throw new LogCodec.Invalid("removal cause " + cause);
                }
                int n = r.i32();
                if (n < 0 || n > LogCodec.MAX_REMOVED_IDS) {
                    throw new LogCodec.Invalid("removal of " + Integer.toUnsignedString(n) + " ids");
                }
                List<String> ids = new ArrayList<>(n);
                for (int k = 0; k < n; k++) {
                    ids.add(r.string());
                }
                return new ExperienceRemoved(ExperienceRemoved.Cause.values()[cause], ids);
            }
            default -> {
                long count = r.i64();
                if (count < 1) {
                    throw new LogCodec.Invalid("sample count " + count);
                }
                return new ExperienceSampled(count);
            }
        }
    }
}
