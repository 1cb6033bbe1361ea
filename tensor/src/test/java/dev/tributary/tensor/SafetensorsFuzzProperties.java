package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Fuzzing the reader: whatever the bytes, opening either succeeds with a consistent result or throws
 * {@link InvalidCheckpointException}: no other exception, no out-of-memory, no hang. The default run
 * takes about twenty seconds; {@code -Dtributary.long=true} runs the same generators for ten minutes more.
 */
class SafetensorsFuzzProperties {
    private static final boolean LONG = Boolean.getBoolean("tributary.long");
    private static final List<byte[]> SEEDS = new ArrayList<>();
    private static Path scratch;

    @BeforeContainer
    static void loadSeeds() throws IOException {
        for (String f : List.of("attn0.safetensors", "f6.safetensors", "all_dtypes.safetensors",
                "sharded/model-00002-of-00002.safetensors")) {
            SEEDS.add(Files.readAllBytes(TestFixtures.path(f)));
        }
        scratch = Files.createTempDirectory("tributary-fuzz");
    }

    @AfterContainer
    static void removeScratch() throws IOException {
        try (Stream<Path> s = Files.list(scratch)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(scratch);
    }

    /**
     * Parses from memory; on success checks that every tensor lies inside the data section and tiles it.
     * Returns whether the input opened.
     */
    static boolean openOrReject(byte[] bytes) {
        SafetensorsHeader h;
        try {
            h = SafetensorsHeader.parse("fuzz", MemorySegment.ofArray(bytes));
        } catch (InvalidCheckpointException e) {
            assertTrue(e.getMessage().startsWith("fuzz: "), e.getMessage());
            assertEquals(-1, e.getMessage().indexOf('\n'), "one-line message");
            return false;
        }
        long dataLength = bytes.length - h.dataOffset();
        long total = 0;
        for (SafetensorsHeader.Entry e : h.entries()) {
            assertTrue(0 <= e.begin() && e.begin() <= e.end() && e.end() <= dataLength, e.toString());
            Tensor.of(e.info().dtype(), e.info().shape(),
                    MemorySegment.ofArray(bytes).asSlice(h.dataOffset() + e.begin(), e.byteSize()));
            total += e.byteSize();
        }
        assertEquals(dataLength, total, "tensors cover the data exactly");
        return true;
    }

    private static void record(boolean opened) {
        Statistics.collect(opened ? "opened" : "rejected");
    }

    @Property(tries = 60000)
    void randomBytes(@ForAll("bytes") byte[] bytes) {
        record(openOrReject(bytes));
    }

    @Property(tries = 100000)
    void mutatedValidFiles(@ForAll("mutated") byte[] bytes) {
        record(openOrReject(bytes));
    }

    @Property(tries = 40000)
    void headerLengthClaims(@ForAll("claims") byte[] bytes) {
        record(openOrReject(bytes));
    }

    @Property(tries = 120000)
    void generatedHeaders(@ForAll("headers") byte[] bytes) {
        record(openOrReject(bytes));
    }

    @Property(tries = 150000)
    void computedHeaders(@ForAll("consistentHeaders") Case c) {
        boolean opened = openOrReject(c.bytes());
        assertEquals(c.valid(), opened, "opens exactly when every rule holds");
        record(opened);
    }

    /** The same inputs through a real file and a memory mapping. */
    @Property(tries = 3000)
    void mappedFiles(@ForAll("mixed") byte[] bytes) throws IOException {
        Path p = Files.write(scratch.resolve("f.safetensors"), bytes);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            for (String n : f.names()) {
                f.tensor(n);
            }
        } catch (InvalidCheckpointException e) {
            assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        }
    }

    /** A 100 MB header claim in a small file is refused before anything near that size is allocated. */
    @Example
    void hugeClaimsAllocateNothingBig() {
        var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        byte[] file = withLength(100_000_000L, "{}".repeat(500).getBytes(StandardCharsets.UTF_8));
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 10; i++) {
            openOrReject(file);
        }
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < 1_000_000, "allocated " + allocated + " bytes for 10 rejected 100 MB claims");
    }

    /** With -Dtributary.long=true: every generator again, for ten minutes. */
    @Example
    void longRun() {
        if (!LONG) {
            System.out.println("SafetensorsFuzzProperties.longRun skipped: set -Dtributary.long=true to fuzz for 10 minutes");
            return;
        }
        long deadline = System.nanoTime() + 600_000_000_000L;
        long count = 0;
        var it = mixed().sampleStream().iterator();
        while (System.nanoTime() < deadline) {
            byte[] b = it.next();
            try {
                openOrReject(b);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("input " + HexFormat.of().formatHex(b) + ": " + e, e);
            }
            count++;
        }
        System.out.println("SafetensorsFuzzProperties.longRun: " + count + " inputs");
    }

    @Provide
    Arbitrary<byte[]> bytes() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
    }

    @Provide
    Arbitrary<byte[]> claims() {
        Arbitrary<Long> length = Arbitraries.oneOf(
                Arbitraries.longs(),
                Arbitraries.longs().between(0, 64),
                Arbitraries.longs().between(99_999_990L, 100_000_010L),
                Arbitraries.of(Long.MAX_VALUE, Long.MIN_VALUE, -1L, -8L, 1L << 32, (1L << 31) - 1));
        return Combinators.combine(length, bytes()).as(SafetensorsFuzzProperties::withLength);
    }

    @Provide
    Arbitrary<byte[]> mutated() {
        Arbitrary<byte[]> seed = Arbitraries.of(SEEDS).map(byte[]::clone);
        Arbitrary<List<Tuple.Tuple3<Integer, Integer, Integer>>> edits = Combinators.combine(
                Arbitraries.integers().between(0, 7), Arbitraries.integers().greaterOrEqual(0),
                Arbitraries.integers()).as(Tuple::of).list().ofMinSize(1).ofMaxSize(6);
        return Combinators.combine(seed, edits).as((s, e) -> {
            byte[] b = s;
            for (var edit : e) {
                b = mutate(b, edit.get1(), edit.get2(), edit.get3());
            }
            return b;
        });
    }

    /** One edit: flip a bit, set a byte, insert, delete, truncate, change the length, or rewrite a digit. */
    static byte[] mutate(byte[] b, int kind, int where, int value) {
        int pos = b.length == 0 ? 0 : where % b.length;
        switch (kind) {
            case 0 -> { if (b.length > 0) b[pos] ^= (byte) (1 << (value & 7)); }
            case 1 -> { if (b.length > 0) b[pos] = (byte) value; }
            case 2 -> {
                byte[] c = new byte[b.length + 1];
                System.arraycopy(b, 0, c, 0, pos);
                c[pos] = (byte) value;
                System.arraycopy(b, pos, c, pos + 1, b.length - pos);
                return c;
            }
            case 3 -> {
                if (b.length == 0) return b;
                byte[] c = new byte[b.length - 1];
                System.arraycopy(b, 0, c, 0, pos);
                System.arraycopy(b, pos + 1, c, pos, b.length - pos - 1);
                return c;
            }
            case 4 -> { return java.util.Arrays.copyOf(b, pos); }
            case 5 -> {
                if (b.length >= 8) {
                    long n = ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    ByteBuffer.wrap(b, 0, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(n + (value % 17));
                }
            }
            default -> {
                // Rewrite a digit of the header: shapes and offsets drift by small amounts.
                for (int i = 0; i < b.length; i++) {
                    int j = (pos + i) % b.length;
                    if (b[j] >= '0' && b[j] <= '9') {
                        b[j] = (byte) ('0' + Math.floorMod(value, 10));
                        break;
                    }
                }
            }
        }
        return b;
    }

    @Provide
    Arbitrary<byte[]> headers() {
        Arbitrary<String> name = Arbitraries.of("a", "b", "c", "__metadata__", "w.0", "\u00e9", "");
        Arbitrary<String> dtype = Arbitraries.oneOf(
                Arbitraries.of(DType.values()).map(DType::safetensorsName),
                Arbitraries.of("F7", "f32", "", "F8_E4M3FNUZ"));
        Arbitrary<String> dim = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 5).map(String::valueOf),
                Arbitraries.of("-1", "1.0", "4294967296", "18446744073709551616", "9223372036854775807", "0"));
        Arbitrary<String> shape = dim.list().ofMaxSize(4).map(l -> "[" + String.join(",", l) + "]");
        Arbitrary<Integer> offset = Arbitraries.integers().between(0, 80);
        Arbitrary<String> tensor = Combinators.combine(name, dtype, shape, offset, offset,
                Arbitraries.integers().between(0, 9)).as((n, d, s, b, e, form) -> {
                    String offsets = "[" + Math.min(b, e) + "," + Math.max(b, e) + "]";
                    String body = switch (form) {
                        case 0 -> "\"dtype\":\"" + d + "\",\"shape\":" + s;
                        case 1 -> "\"dtype\":3,\"shape\":" + s + ",\"data_offsets\":" + offsets;
                        case 2 -> "\"format\":\"pt\",\"x\":\"" + d + "\"";
                        case 3 -> "\"format\":7";
                        default -> "\"dtype\":\"" + d + "\",\"shape\":" + s + ",\"data_offsets\":" + offsets;
                    };
                    return Json.quote(n) + ":{" + body + "}";
                });
        return Combinators.combine(tensor.list().ofMaxSize(5), Arbitraries.integers().between(0, 100),
                Arbitraries.of("", " ", "   \n")).as((ts, data, pad) -> {
                    byte[] h = ("{" + String.join(",", ts) + "}" + pad).getBytes(StandardCharsets.UTF_8);
                    return withLength(h.length, java.util.Arrays.copyOf(h, h.length + data));
                });
    }

    /** A generated file and whether the rules say it must open. */
    record Case(byte[] bytes, boolean valid) {}

    /**
     * Headers whose offsets are computed from dtype and shape, so that they are valid, then optionally
     * nudged: an offset or the data length off by a little, or a number as a metadata value. The
     * generator knows which of them must open.
     */
    @Provide
    Arbitrary<Case> consistentHeaders() {
        Arbitrary<DType> dtype = Arbitraries.of(DType.values());
        Arbitrary<List<Integer>> dims = Arbitraries.integers().between(0, 4).list().ofMaxSize(3);
        Arbitrary<List<Tuple.Tuple2<DType, List<Integer>>>> specs =
                Combinators.combine(dtype, dims).as(Tuple::of).list().ofMaxSize(6);
        return Combinators.combine(specs, Arbitraries.integers().between(0, 5), Arbitraries.integers().between(-3, 3),
                Arbitraries.of(true, false)).as((list, nudge, delta, reverse) -> {
                    List<String> entries = new ArrayList<>();
                    long offset = 0;
                    boolean valid = true;
                    for (int i = 0; i < list.size(); i++) {
                        DType d = list.get(i).get1();
                        long numel = list.get(i).get2().stream().mapToLong(Integer::longValue).reduce(1, (x, y) -> x * y);
                        long size = (numel * d.bits() + 7) / 8;
                        valid &= numel * d.bits() % 8 == 0;
                        long begin = offset + (nudge == 1 && i == 0 ? delta : 0);
                        long end = offset + size + (nudge == 2 && i == list.size() - 1 ? delta : 0);
                        entries.add("\"t" + i + "\":{\"dtype\":\"" + d.safetensorsName() + "\",\"shape\":"
                                + list.get(i).get2().toString().replace(" ", "") + ",\"data_offsets\":[" + begin + "," + end + "]}");
                        offset += size;
                    }
                    if (reverse) {
                        java.util.Collections.reverse(entries);
                    }
                    if (nudge == 3) {
                        entries.add("\"__metadata__\":{\"k\":" + (delta == 0 ? "1" : "\"v\"") + "}");
                    }
                    long data = Math.max(0, offset + (nudge == 4 ? delta : 0));
                    valid &= !((nudge == 1 || nudge == 2) && delta != 0 && !list.isEmpty())
                            && !(nudge == 3 && delta == 0) && data == offset;
                    byte[] h = ("{" + String.join(",", entries) + "}").getBytes(StandardCharsets.UTF_8);
                    return new Case(withLength(h.length, java.util.Arrays.copyOf(h, (int) (h.length + data))), valid);
                });
    }

    @Provide
    Arbitrary<byte[]> mixed() {
        return Arbitraries.oneOf(bytes(), claims(), mutated(), headers(), consistentHeaders().map(Case::bytes));
    }

    /** An 8-byte little-endian length followed by {@code rest}. */
    static byte[] withLength(long n, byte[] rest) {
        return ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN).putLong(n).put(rest).array();
    }
}
