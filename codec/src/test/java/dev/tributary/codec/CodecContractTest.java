package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The contract every codec keeps, run against each spec in {@link Samples#SPECS}. */
class CodecContractTest {

    static Stream<String> specs() {
        return Samples.SPECS.stream();
    }

    static Stream<String> lossy() {
        return Samples.LOSSY.stream();
    }

    static Stream<String> lossless() {
        return Samples.SPECS.stream().filter(s -> s.startsWith("lossless"));
    }

    static TensorMap roundTrip(Codec c, TensorMap m) throws CodecException {
        return c.decode(c.encode(m), m.infos(), DecodeLimits.forLayout(m.infos()));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void specIsCanonicalAndNamedInTheHeader(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        assertEquals(c.spec(), Codec.parse(c.spec()).spec());
        assertEquals(c.spec(), Codec.specOf(c.encode(Samples.delta(1))));
        assertEquals(spec.startsWith("lossless"), c.isLossless());
    }

    @ParameterizedTest
    @MethodSource("specs")
    void namesShapesAndOrderArePreserved(String spec) throws CodecException {
        TensorMap m = Samples.delta(2);
        TensorMap d = roundTrip(Codec.parse(spec), m);
        assertEquals(m.names(), d.names());
        for (TensorInfo i : m.infos()) {
            assertEquals(i, d.tensor(i.name()).info(i.name()), "dtype F32 and same shape");
        }
    }

    /** Decoding into reused buffers overwrites every value: the same result as a fresh decode. */
    @ParameterizedTest
    @MethodSource("specs")
    void decodeIntoOverwritesEveryValue(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(14);
        byte[] bytes = c.encode(m);
        TensorMap fresh = c.decode(bytes, m.infos(), DecodeLimits.forLayout(m.infos()));
        TensorMap reused = new TensorMap();
        for (TensorInfo i : m.infos()) {
            Tensor t = Tensor.allocate(DType.F32, i.shape(), java.lang.foreign.Arena.ofAuto());
            t.data().fill((byte) 0x7F);
            reused.put(i.name(), t);
        }
        c.decodeInto(java.lang.foreign.MemorySegment.ofArray(bytes), reused, DecodeLimits.forLayout(m.infos()));
        for (String n : m.names()) {
            assertTrue(fresh.tensor(n).contentEquals(reused.tensor(n)), spec + ": " + n);
        }
        TensorMap half = new TensorMap().put("w", Tensor.ofFloats(DType.BF16, new long[] {1}, 1f));
        assertThrows(IllegalArgumentException.class, () -> c.decodeInto(
                java.lang.foreign.MemorySegment.ofArray(bytes), half, DecodeLimits.of(1 << 20)));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void zerosDecodeToZeros(String spec) throws CodecException {
        TensorMap z = Samples.zeros(Samples.delta(3));
        TensorMap d = roundTrip(Codec.parse(spec), z);
        for (String n : d.names()) {
            for (float v : d.tensor(n).toFloatArray()) {
                assertEquals(0f, v, spec + " " + n);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("lossy")
    void lossyErrorIsWithinTheCodecsBound(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        for (long seed = 10; seed < 15; seed++) {
            TensorMap m = Samples.delta(seed);
            TensorMap d = roundTrip(c, m);
            for (TensorInfo i : m.infos()) {
                Bounds.check(spec, m.tensor(i.name()).toFloatArray(), i.shape(), d.tensor(i.name()).toFloatArray());
            }
        }
    }

    @ParameterizedTest
    @MethodSource("lossy")
    void lossyCodecsRefuseNonFiniteInput(String spec) {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            TensorMap m = Samples.delta(4);
            m.tensor("layers.0.weight").setFloat(100, bad);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Codec.parse(spec).encode(m));
            assertTrue(e.getMessage().contains("layers.0.weight"), e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void onlyF32IsEncoded(String spec) {
        TensorMap m = new TensorMap().put("w", Tensor.ofFloats(DType.BF16, new long[] {2}, 1f, 2f));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Codec.parse(spec).encode(m));
        assertTrue(e.getMessage().contains("tensor w: dtype BF16"), e.getMessage());
    }

    /** Any bit pattern comes back: NaNs with payloads (signaling too), infinities, -0, subnormals. */
    @ParameterizedTest
    @MethodSource("lossless")
    void losslessIsBitExactForAnyBits(String spec) throws CodecException {
        SplittableRandom r = new SplittableRandom(5);
        int[] special = {0x7F80_0001, 0xFFC0_0123, 0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x8000_0000, 0x0000_0001,
                0x807F_FFFF, 0x7F7F_FFFF};
        TensorMap m = Samples.delta(6);
        Tensor noise = Tensor.allocate(DType.F32, new long[] {3, 1000}, java.lang.foreign.Arena.ofAuto());
        for (long i = 0; i < noise.numel(); i++) {
            noise.data().set(Tensor.I32_LE, 4 * i, i < special.length ? special[(int) i] : r.nextInt());
        }
        m.put("noise", noise);
        // Larger than one chunk of planes, with structure a compressor finds.
        Tensor big = Tensor.allocate(DType.F32, new long[] {BytePlanes.CHUNK + 123}, java.lang.foreign.Arena.ofAuto());
        for (long i = 0; i < big.numel(); i++) {
            big.setFloat(i, (float) Math.sin(i * 1e-3) * 1e-2f);
        }
        m.put("big", big);
        Codec c = Codec.parse(spec);
        byte[] bytes = c.encode(m);
        TensorMap d = c.decode(bytes, m.infos(), DecodeLimits.forLayout(m.infos()));
        for (String n : m.names()) {
            assertTrue(m.tensor(n).contentEquals(d.tensor(n)), spec + ": " + n + " bit-exact");
        }
        assertTrue(bytes.length < 4 * m.parameters(), "smooth data compresses: " + bytes.length);
    }

    @ParameterizedTest
    @MethodSource("specs")
    void encodedSizeIsHeaderPlusPayloads(String spec) {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(7);
        byte[] bytes = c.encode(m);
        long header = headerSize(c.spec(), m.infos());
        long payloads = 0;
        for (TensorInfo i : m.infos()) {
            payloads += expectedPayload(c.spec(), i.numel(), i.shape());
        }
        if (spec.contains("lossless")) {
            assertTrue(bytes.length - header <= payloads, spec + ": at most every plane raw");
        } else {
            assertEquals(header + payloads, bytes.length, spec);
        }
    }

    /** The container's size, computed from the format description. */
    static long headerSize(String spec, List<TensorInfo> layout) {
        long n = 4 + 1 + 1 + spec.length() + 4 + 4;
        for (TensorInfo i : layout) {
            n += 2 + i.name().getBytes(StandardCharsets.UTF_8).length + 1 + 3 + 1 + 8L * i.shape().length + 8;
        }
        return n;
    }

    /** Payload sizes from the codecs' descriptions: e.g. int4 is numel/2 bytes plus 4 per group. */
    static long expectedPayload(String spec, long n, long[] shape) {
        int stage = spec.indexOf("+lossless");
        if (stage >= 0) {
            long max = 0;
            for (long[] section : sections(spec.substring(0, stage), n, shape)) {
                max += section[1] * (section[0] / section[1] + 5 * ceil(section[0] / section[1], BytePlanes.CHUNK));
            }
            return max;
        }
        String[] parts = spec.split("\\+", 2);
        String name = parts[0].split(":")[0];
        return switch (name) {
            case "f16", "bf16" -> 2 * n;
            case "int8" -> n + 4 * ceil(n, group(parts[0]));
            case "int4", "fp4" -> ceil(n, 2) + 4 * ceil(n, group(parts[0]));
            case "fp8" -> {
                long c = shape.length >= 2 ? shape[shape.length - 1] : n;
                yield n + 4 * (c == 0 ? 0 : n / c);
            }
            case "topk" -> {
                long k = (long) Math.min(n, Math.ceil(Double.parseDouble(parts[0].split("=")[1]) * n));
                yield 4 * k + (parts.length == 1 ? 4 * k : expectedPayload(parts[1], k, new long[] {k}));
            }
            case "lossless" -> 4 * (n + 5 * ceil(n, BytePlanes.CHUNK));
            default -> throw new IllegalArgumentException(spec);
        };
    }

    /** The runs of a lossy payload a lossless stage compresses apart: {bytes, element width}. */
    static List<long[]> sections(String spec, long n, long[] shape) {
        String[] parts = spec.split("\\+", 2);
        String name = parts[0].split(":")[0];
        long all = expectedPayload(spec, n, shape);
        return switch (name) {
            case "f16", "bf16" -> List.of(new long[] {all, 2});
            case "int8", "int4", "fp4" -> {
                long scales = 4 * ceil(n, group(parts[0]));
                yield List.of(new long[] {scales, 4}, new long[] {all - scales, 1});
            }
            case "fp8" -> List.of(new long[] {all - n, 4}, new long[] {n, 1});
            case "topk" -> {
                long k = (long) Math.min(n, Math.ceil(Double.parseDouble(parts[0].split("=")[1]) * n));
                List<long[]> out = new ArrayList<>();
                out.add(new long[] {4 * k, 4});
                out.addAll(parts.length == 1 ? List.of(new long[] {4 * k, 4}) : sections(parts[1], k, new long[] {k}));
                yield out;
            }
            default -> throw new IllegalArgumentException(spec);
        };
    }

    private static long ceil(long a, long b) {
        return (a + b - 1) / b;
    }

    private static int group(String part) {
        return Integer.parseInt(part.substring(part.indexOf("group=") + 6));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void everyTruncationIsRefused(String spec) {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(8);
        byte[] bytes = c.encode(m);
        for (int len = 0; len < bytes.length; len++) {
            byte[] cut = java.util.Arrays.copyOf(bytes, len);
            refused(c, cut, m.infos(), spec + " cut to " + len);
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void everyBitFlipIsRefused(String spec) {
        Codec c = Codec.parse(spec);
        TensorMap m = new TensorMap().put("w", Samples.gaussian(new SplittableRandom(9), new long[] {4, 11}, 1))
                .put("b", Samples.gaussian(new SplittableRandom(10), new long[] {11}, 1));
        byte[] bytes = c.encode(m);
        for (int bit = 0; bit < 8 * bytes.length; bit++) {
            byte[] b = bytes.clone();
            b[bit / 8] ^= (byte) (1 << (bit % 8));
            Reason why = refused(c, b, m.infos(), spec + " bit " + bit);
            assertTrue(why == Reason.CORRUPT || why == Reason.MALFORMED || why == Reason.UNSUPPORTED, why + " at bit " + bit);
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void otherLayoutsAreRefused(String spec) {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(11);
        byte[] bytes = c.encode(m);
        List<TensorInfo> layout = m.infos();
        List<List<TensorInfo>> wrong = new ArrayList<>();
        wrong.add(layout.subList(0, layout.size() - 1));
        List<TensorInfo> extra = new ArrayList<>(layout);
        extra.add(new TensorInfo("more", DType.F32, new long[] {1}));
        wrong.add(extra);
        List<TensorInfo> renamed = new ArrayList<>(layout);
        renamed.set(1, new TensorInfo("layers.0.bias2", DType.F32, layout.get(1).shape()));
        wrong.add(renamed);
        List<TensorInfo> reshaped = new ArrayList<>(layout);
        reshaped.set(0, new TensorInfo("layers.0.weight", DType.F32, new long[] {33, 17}));
        wrong.add(reshaped);
        List<TensorInfo> swapped = new ArrayList<>(layout);
        swapped.set(0, layout.get(1));
        swapped.set(1, layout.get(0));
        wrong.add(swapped);
        for (List<TensorInfo> w : wrong) {
            assertEquals(Reason.LAYOUT, refused(c, bytes, w, spec + " for " + w), "layout " + w);
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void limitsAreEnforced(String spec) {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(12);
        byte[] bytes = c.encode(m);
        DecodeLimits ok = DecodeLimits.forLayout(m.infos());
        long decoded = 4 * m.parameters();
        assertEquals(Reason.TOO_LARGE, reason(c, bytes, m.infos(), ok.withMaxDecodedBytes(decoded - 1)));
        assertEquals(Reason.TOO_LARGE, reason(c, bytes, m.infos(), ok.withMaxEncodedBytes(bytes.length - 1)));
        assertEquals(Reason.TOO_LARGE, reason(c, bytes, m.infos(), ok.withMaxTensors(m.size() - 1)));
        assertEquals(Reason.TOO_LARGE, reason(c, bytes, m.infos(), ok.withMaxNameBytes("layers.0.weight".length() - 1)));
        assertEquals(Reason.TOO_LARGE, reason(c, bytes, m.infos(), ok.withMaxRank(2)));
    }

    @ParameterizedTest
    @MethodSource("specs")
    void messagesOfOtherCodecsAreRefused(String spec) {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(13);
        for (String other : Samples.SPECS) {
            Codec o = Codec.parse(other);
            if (o.spec().equals(c.spec()) || (o.isLossless() && c.isLossless())) {
                continue;
            }
            assertEquals(Reason.UNSUPPORTED, reason(c, o.encode(m), m.infos(), DecodeLimits.forLayout(m.infos())),
                    other + " read as " + spec);
        }
    }

    @ParameterizedTest
    @MethodSource("specs")
    void emptyMapsAndScalarsRoundTrip(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        assertEquals(0, roundTrip(c, new TensorMap()).size());
        TensorMap s = new TensorMap().put("s", Tensor.ofFloats(new long[] {}, -2.5f)).put("e", Tensor.ofFloats(new long[] {0}));
        TensorMap d = roundTrip(c, s);
        assertArrayEquals(new long[] {}, d.tensor("s").shape());
        assertEquals(-2.5f, d.tensor("s").getFloat(0), c.isLossless() ? 0 : 0.2);
        assertEquals(0, d.tensor("e").numel());
    }

    /** A receiver that does not know the layout reads it from the message, held to the limits. */
    @ParameterizedTest
    @MethodSource("specs")
    void theLayoutIsReadFromTheMessageWithinTheLimits(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        TensorMap m = Samples.delta(15);
        byte[] bytes = c.encode(m);
        DecodeLimits ok = DecodeLimits.forLayout(m.infos());
        java.lang.foreign.MemorySegment seg = java.lang.foreign.MemorySegment.ofArray(bytes);
        assertEquals(m.infos(), Codec.layoutOf(seg, ok));
        for (DecodeLimits tight : List.of(ok.withMaxDecodedBytes(4 * m.parameters() - 1), ok.withMaxTensors(m.size() - 1),
                ok.withMaxRank(2), ok.withMaxEncodedBytes(bytes.length - 1))) {
            assertEquals(Reason.TOO_LARGE, assertThrows(CodecException.class, () -> Codec.layoutOf(seg, tight)).reason());
        }
        byte[] flipped = bytes.clone();
        flipped[flipped.length / 2] ^= 1;
        assertEquals(Reason.CORRUPT, assertThrows(CodecException.class,
                () -> Codec.layoutOf(java.lang.foreign.MemorySegment.ofArray(flipped), ok)).reason());
    }

    @org.junit.jupiter.api.Test
    void aDeclaredLayoutNamingATensorTwiceIsRefused() {
        byte[] header = Format.header(Format.CODEC_MAGIC, "bf16", List.of(new Format.Entry("w", DType.F32, new long[] {1}, 2, -1),
                new Format.Entry("w", DType.F32, new long[] {1}, 2, -1)));
        byte[] out = new byte[header.length + 4 + 4];
        System.arraycopy(header, 0, out, 0, header.length);
        Format.seal(out);
        CodecException e = assertThrows(CodecException.class,
                () -> Codec.layoutOf(java.lang.foreign.MemorySegment.ofArray(out), DecodeLimits.of(1 << 20)));
        assertEquals(Reason.MALFORMED, e.reason());
        assertTrue(e.getMessage().contains("\"w\" given twice"), e.getMessage());
    }

    /** Decodes and expects a refusal; fails on success or on any other exception. */
    static Reason refused(Codec c, byte[] bytes, List<TensorInfo> layout, String what) {
        return reason(c, bytes, layout, DecodeLimits.of(1 << 24));
    }

    static Reason reason(Codec c, byte[] bytes, List<TensorInfo> layout, DecodeLimits limits) {
        try {
            c.decode(bytes, layout, limits);
        } catch (CodecException e) {
            assertEquals(-1, e.getMessage().indexOf('\n'), "one line");
            assertTrue(e.getMessage().startsWith(e.reason().code() + ": "), e.getMessage());
            return e.reason();
        } catch (RuntimeException e) {
            throw new AssertionError("decode threw " + e, e);
        }
        fail("decoded without a refusal");
        return null;
    }
}
