package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdCompressCtx;
import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** A lossless stage after a lossy codec: the lossy codec's values exactly, in fewer bytes, decoded within bounds. */
class LosslessStageTest {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** The contract suite's stages and two more layouts: fp8's row scales, top-k's f32 values. */
    static Stream<String> staged() {
        return Stream.concat(Samples.SPECS.stream().filter(s -> s.contains("+lossless")),
                Stream.of("fp8+lossless", "topk:fraction=0.2+lossless"));
    }

    /** A delta shaped like an MLP's update: Gaussian layers, some rows all zero (inputs that never fire). */
    static TensorMap mlpDelta(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor w = Samples.gaussian(r, new long[] {200, 784}, 1e-3);
        for (int row = 0; row < 200; row++) {
            for (int col = 0; col < 60; col++) {
                w.setFloat(row * 784L + col, 0f);
            }
        }
        return new TensorMap().put("fc1.weight", w).put("fc1.bias", Samples.gaussian(r, new long[] {200}, 1e-3))
                .put("fc2.weight", Samples.gaussian(r, new long[] {10, 200}, 3e-3))
                .put("fc2.bias", Samples.gaussian(r, new long[] {10}, 3e-3));
    }

    @ParameterizedTest
    @MethodSource("staged")
    void decodesToExactlyTheLossyCodecsValues(String spec) throws CodecException {
        Codec staged = Codec.parse(spec);
        Codec lossy = Codec.parse(spec.substring(0, spec.indexOf("+lossless")));
        for (TensorMap m : List.of(Samples.delta(21), Samples.delta(22), mlpDelta(23))) {
            TensorMap a = staged.decode(staged.encode(m), m.infos(), DecodeLimits.forLayout(m.infos()));
            TensorMap b = lossy.decode(lossy.encode(m), m.infos(), DecodeLimits.forLayout(m.infos()));
            for (String n : m.names()) {
                assertTrue(a.tensor(n).contentEquals(b.tensor(n)), spec + ": " + n + " bit for bit as " + lossy.spec());
            }
        }
    }

    @ParameterizedTest
    @MethodSource("staged")
    void compressesTheLossyPayload(String spec) {
        Codec staged = Codec.parse(spec);
        Codec lossy = Codec.parse(spec.substring(0, spec.indexOf("+lossless")));
        TensorMap m = mlpDelta(24);
        int a = staged.encode(m).length;
        int b = lossy.encode(m).length;
        // Gaussian codes carry under 4 bits of entropy (int4) and ~6 (int8); exponents and index gaps compress.
        assertTrue(a < 0.95 * b, spec + ": " + a + " bytes vs " + b);
        assertTrue(!staged.hasFixedSize() && lossy.hasFixedSize());
    }

    @Test
    void int4PlusLosslessPassesEightfoldOnAnMlpDelta() {
        TensorMap m = mlpDelta(25);
        long f32 = 4 * m.parameters();
        int bytes = Codec.parse("int4+lossless").encode(m).length;
        assertTrue(f32 >= 8.0 * bytes, "int4+lossless: " + (double) f32 / bytes + "x fewer bytes than f32");
    }

    private static Reason refusal(Codec c, byte[] bytes, List<TensorInfo> layout, long maxAllocated) {
        long before = MX.getCurrentThreadAllocatedBytes();
        CodecException e = assertThrows(CodecException.class, () -> c.decode(bytes, layout, DecodeLimits.forLayout(layout)));
        long allocated = MX.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < maxAllocated, "allocated " + allocated + " bytes to refuse: " + e.getMessage());
        return e.reason();
    }

    private static void zstdPlane(ByteArrayOutputStream p, byte[] frame) {
        p.write(1);
        p.writeBytes(new byte[] {(byte) frame.length, (byte) (frame.length >>> 8), (byte) (frame.length >>> 16), 0});
        p.writeBytes(frame);
    }

    private static void rawPlane(ByteArrayOutputStream p, byte[] plane) {
        p.write(0);
        p.writeBytes(plane);
    }

    /** A frame that inflates to 16 MiB in the scales' exponent plane of an int4 message of 1,000 values. */
    @Test
    void decompressionBombsAreRefused() throws Exception {
        int n = 1000;
        int groups = (n + 63) / 64;
        byte[] bomb;
        byte[] unsized;
        try (ZstdCompressCtx z = new ZstdCompressCtx()) {
            z.setLevel(3);
            bomb = z.compress(new byte[16 << 20]);
            z.setContentSize(false);
            unsized = z.compress(new byte[groups]);
        }
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {n}));
        Codec c = Codec.parse("int4+lossless");
        for (byte[] frame : List.of(bomb, unsized)) {
            ByteArrayOutputStream p = new ByteArrayOutputStream();
            for (int plane = 0; plane < 3; plane++) {
                rawPlane(p, new byte[groups]);
            }
            zstdPlane(p, frame);
            rawPlane(p, new byte[n / 2]);
            byte[] payload = p.toByteArray();
            byte[] m = BoundedDecodingTest.message(c.spec(), new long[] {n}, payload.length, payload);
            assertEquals(Reason.MALFORMED, refusal(c, m, layout, 2_000_000));
        }
    }

    /** The same message with honest planes decodes: the refusals above are the frames', not the framing's. */
    @Test
    void theCraftedFramingIsWellFormed() throws CodecException {
        int n = 1000;
        int groups = (n + 63) / 64;
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        for (int plane = 0; plane < 4; plane++) {
            rawPlane(p, new byte[groups]);
        }
        rawPlane(p, new byte[n / 2]);
        byte[] payload = p.toByteArray();
        Codec c = Codec.parse("int4+lossless");
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {n}));
        TensorMap d = c.decode(BoundedDecodingTest.message(c.spec(), new long[] {n}, payload.length, payload), layout,
                DecodeLimits.forLayout(layout));
        assertEquals(0f, d.tensor("w").getFloat(n - 1));
    }

    /** Index gaps that sum past u32, or past the tensor, are refused. */
    @Test
    void indexGapsPastTheTensorAreRefused() {
        Codec c = Codec.parse("topk:fraction=1+lossless");
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {2}));
        for (byte[][] gaps : new byte[][][] {
                {{0, (byte) 0xFF}, {0, (byte) 0xFF}, {0, (byte) 0xFF}, {0, (byte) 0xFF}}, // 0, then 2^32
                {{1, 0}, {0, 0}, {0, 0}, {0, 0}}}) { // indices 1, 2 of a tensor of 2
            ByteArrayOutputStream p = new ByteArrayOutputStream();
            for (byte[] plane : gaps) {
                rawPlane(p, plane);
            }
            for (int plane = 0; plane < 4; plane++) {
                rawPlane(p, new byte[2]);
            }
            byte[] payload = p.toByteArray();
            byte[] m = BoundedDecodingTest.message(c.spec(), new long[] {2}, payload.length, payload);
            CodecException e = assertThrows(CodecException.class, () -> c.decode(m, layout, DecodeLimits.forLayout(layout)));
            assertEquals(Reason.MALFORMED, e.reason());
            assertTrue(e.getMessage().contains("index #1"), e.getMessage());
        }
    }

    /** Zstd frames of 0 to 3 bytes (a fuzzed message once had an empty one) are refused, never thrown out of zstd-jni. */
    @Test
    void emptyAndCutZstdFramesAreRefused() {
        Codec c = Codec.parse("lossless");
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {8}));
        for (int n = 0; n < 4; n++) {
            ByteArrayOutputStream p = new ByteArrayOutputStream();
            p.write(1); // a zstd plane
            p.writeBytes(new byte[] {(byte) n, 0, 0, 0});
            p.write(new byte[] {0x28, (byte) 0xB5, 0x2F}, 0, n); // the start of zstd's magic number, cut
            byte[] payload = p.toByteArray();
            byte[] m = BoundedDecodingTest.message(c.spec(), new long[] {8}, payload.length, payload);
            CodecException e = assertThrows(CodecException.class, () -> c.decode(m, layout, DecodeLimits.forLayout(layout)),
                    n + "-byte frame");
            assertEquals(Reason.MALFORMED, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("zstd"), e.getMessage());
        }
    }
}
