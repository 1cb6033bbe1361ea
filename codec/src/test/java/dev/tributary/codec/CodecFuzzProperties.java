package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * Fuzzing the decoders: whatever the bytes, decoding either gives exactly the expected layout or throws
 * {@link CodecException}; never another exception. Most mutated messages get a fresh checksum, so that
 * the parser behind the checksum is exercised too. Bounded to a few seconds by default;
 * {@code -Dtributary.long=true} runs the mutations for five minutes more.
 */
class CodecFuzzProperties {
    private static final boolean LONG = Boolean.getBoolean("tributary.long");
    private static final TensorMap DELTA = Samples.delta(99);
    private static final List<TensorInfo> LAYOUT = DELTA.infos();
    private static final List<Codec> CODECS = Samples.SPECS.stream().map(Codec::parse).toList();
    private static final List<byte[]> SEEDS = CODECS.stream().map(c -> c.encode(DELTA)).toList();

    /** Decodes {@code bytes} as codec {@code which}; returns whether it decoded. */
    static boolean decodeOrRefuse(int which, byte[] bytes) {
        try {
            TensorMap d = CODECS.get(which).decode(bytes, LAYOUT, DecodeLimits.forLayout(LAYOUT));
            assertEquals(DELTA.names(), d.names());
            for (TensorInfo i : LAYOUT) {
                assertEquals(i, d.tensor(i.name()).info(i.name()));
            }
            return true;
        } catch (CodecException e) {
            assertEquals(-1, e.getMessage().indexOf('\n'));
            Statistics.label("reason").collect(e.reason().code());
            return false;
        } catch (RuntimeException e) {
            throw new AssertionError(CODECS.get(which).spec() + " on " + HexFormat.of().formatHex(bytes) + ": " + e, e);
        }
    }

    record Case(int codec, byte[] bytes) {}

    @Property(tries = 2000)
    void mutatedMessages(@ForAll("mutated") Case c) {
        Statistics.label("decoded").collect(decodeOrRefuse(c.codec(), c.bytes()));
    }

    @Property(tries = 800)
    void randomBytesAfterAValidPrefix(@ForAll("prefixed") Case c) {
        decodeOrRefuse(c.codec(), c.bytes());
    }

    @Example
    void longRun() {
        if (!LONG) {
            System.out.println("CodecFuzzProperties.longRun skipped: set -Dtributary.long=true to fuzz for 5 minutes");
            return;
        }
        long deadline = System.nanoTime() + 300_000_000_000L;
        var it = mutated().sampleStream().iterator();
        long n = 0;
        while (System.nanoTime() < deadline) {
            Case c = it.next();
            decodeOrRefuse(c.codec(), c.bytes());
            n++;
        }
        System.out.println("CodecFuzzProperties.longRun: " + n + " inputs");
    }

    @Provide
    Arbitrary<Case> mutated() {
        Arbitrary<Integer> codec = Arbitraries.integers().between(0, CODECS.size() - 1);
        Arbitrary<List<Tuple.Tuple3<Integer, Integer, Integer>>> edits = Combinators.combine(
                Arbitraries.integers().between(0, 5), Arbitraries.integers().greaterOrEqual(0),
                Arbitraries.integers()).as(Tuple::of).list().ofMinSize(1).ofMaxSize(4);
        Arbitrary<Boolean> reseal = Arbitraries.integers().between(0, 9).map(i -> i < 8);
        return Combinators.combine(codec, edits, reseal).as((k, e, s) -> {
            byte[] b = SEEDS.get(k).clone();
            for (var edit : e) {
                b = mutate(b, edit.get1(), edit.get2(), edit.get3());
            }
            if (s && b.length >= Format.MIN_MESSAGE_BYTES) {
                Format.seal(b);
            }
            return new Case(k, b);
        });
    }

    /** Keeps the first bytes (magic, version, spec, part of the header) of a real message; random after. */
    @Provide
    Arbitrary<Case> prefixed() {
        Arbitrary<Integer> codec = Arbitraries.integers().between(0, CODECS.size() - 1);
        return Combinators.combine(codec, Arbitraries.integers().between(0, 200),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(400)).as((k, keep, tail) -> {
                    byte[] seed = SEEDS.get(k);
                    int n = Math.min(keep, seed.length);
                    byte[] b = new byte[n + tail.length + 4];
                    System.arraycopy(seed, 0, b, 0, n);
                    System.arraycopy(tail, 0, b, n, tail.length);
                    if (b.length >= Format.MIN_MESSAGE_BYTES) {
                        Format.seal(b);
                    }
                    return new Case(k, b);
                });
    }

    /**
     * One edit, as a splice (replace {@code remove} bytes at a position by others): flip a bit, set a
     * byte, insert one, delete one, truncate, or overwrite eight bytes with a large little-endian number.
     */
    static byte[] mutate(byte[] b, int kind, int where, int value) {
        int pos = b.length == 0 ? 0 : where % b.length;
        int left = b.length - pos;
        return switch (kind) {
            case 0 -> left == 0 ? b : splice(b, pos, 1, (byte) (b[pos] ^ (1 << (value & 7))));
            case 1 -> left == 0 ? b : splice(b, pos, 1, (byte) value);
            case 2 -> splice(b, pos, 0, (byte) value);
            case 3 -> left == 0 ? b : splice(b, pos, 1);
            case 4 -> splice(b, pos, left);
            default -> {
                long v = switch (value & 3) {
                    case 0 -> value;
                    case 1 -> Long.MAX_VALUE;
                    case 2 -> 1L << (value >>> 26);
                    default -> -1L;
                };
                byte[] le = new byte[Math.min(8, left)];
                for (int i = 0; i < le.length; i++) {
                    le[i] = (byte) (v >>> (8 * i));
                }
                yield splice(b, pos, le.length, le);
            }
        };
    }

    private static byte[] splice(byte[] b, int pos, int remove, byte... insert) {
        byte[] out = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, out, 0, pos);
        System.arraycopy(insert, 0, out, pos, insert.length);
        System.arraycopy(b, pos + remove, out, pos + insert.length, b.length - pos - remove);
        return out;
    }
}
