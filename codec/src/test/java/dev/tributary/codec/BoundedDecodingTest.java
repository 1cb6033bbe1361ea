package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.ZstdCompressCtx;
import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Declared sizes past the limits or the layout are refused before anything large is allocated. */
class BoundedDecodingTest {
    private static final com.sun.management.ThreadMXBean MX =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** A message whose header declares {@code shape} for tensor "w", with {@code payload} as its payload. */
    static byte[] message(String spec, long[] shape, long declaredPayload, byte[] payload) {
        byte[] header = Format.header(Format.CODEC_MAGIC, spec,
                List.of(new Format.Entry("w", DType.F32, shape, declaredPayload, -1)));
        byte[] out = new byte[header.length + payload.length + 4];
        System.arraycopy(header, 0, out, 0, header.length);
        System.arraycopy(payload, 0, out, header.length, payload.length);
        Format.seal(out);
        return out;
    }

    private static Reason refusal(Codec c, byte[] bytes, List<TensorInfo> layout, DecodeLimits limits, long maxAllocated) {
        long before = MX.getCurrentThreadAllocatedBytes();
        CodecException e = assertThrows(CodecException.class, () -> c.decode(bytes, layout, limits));
        long allocated = MX.getCurrentThreadAllocatedBytes() - before;
        assertTrue(allocated < maxAllocated, "allocated " + allocated + " bytes to refuse: " + e.getMessage());
        return e.reason();
    }

    @Test
    void hugeDeclaredTensorsAreRefusedByTheLimits() {
        long[] huge = {1L << 20, 1L << 20};
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, huge));
        for (String spec : Samples.SPECS) {
            Codec c = Codec.parse(spec);
            byte[] m = message(c.spec(), huge, 1L << 40, new byte[0]);
            assertEquals(Reason.TOO_LARGE, refusal(c, m, layout, DecodeLimits.of(1 << 20), 200_000), spec);
        }
    }

    @Test
    void hugeDeclaredTensorsAreRefusedByTheLayout() {
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {16}));
        for (String spec : Samples.SPECS) {
            Codec c = Codec.parse(spec);
            byte[] m = message(c.spec(), new long[] {1L << 40}, 1L << 40, new byte[0]);
            assertEquals(Reason.LAYOUT, refusal(c, m, layout, DecodeLimits.of(Long.MAX_VALUE / 4), 200_000), spec);
        }
    }

    /** Even within generous limits, a payload shorter than its declaration allocates nothing for the tensor. */
    @Test
    void missingPayloadsAreRefusedBeforeAllocating() {
        long[] shape = {1L << 28};
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, shape));
        for (String spec : Samples.SPECS) {
            Codec c = Codec.parse(spec);
            byte[] m = message(c.spec(), shape, 1L << 28, new byte[100]);
            assertEquals(Reason.MALFORMED, refusal(c, m, layout, DecodeLimits.of(1L << 34), 200_000), spec);
        }
    }

    /** zstd frames that would inflate past the chunk the layout allows are refused before inflating. */
    @Test
    void decompressionBombsAreRefused() throws Exception {
        int n = 1000;
        byte[] bomb;
        byte[] unsized;
        try (ZstdCompressCtx z = new ZstdCompressCtx()) {
            z.setLevel(3);
            bomb = z.compress(new byte[16 << 20]);
            z.setContentSize(false);
            unsized = z.compress(new byte[16 << 20]);
        }
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {n}));
        Codec c = Codec.parse("lossless");
        for (byte[] frame : List.of(bomb, unsized)) {
            ByteArrayOutputStream p = new ByteArrayOutputStream();
            p.write(1);
            p.write(frame.length);
            p.write(frame.length >>> 8);
            p.write(0);
            p.write(0);
            p.write(frame);
            for (int plane = 1; plane < 4; plane++) {
                p.write(0);
                p.write(new byte[n]);
            }
            byte[] payload = p.toByteArray();
            byte[] m = message(c.spec(), new long[] {n}, payload.length, payload);
            assertEquals(Reason.MALFORMED, refusal(c, m, layout, DecodeLimits.forLayout(layout), 2_000_000));
        }
    }

    @Test
    void layoutsPastTheLimitsAreRefusedWhateverTheBytes() {
        List<TensorInfo> layout = List.of(new TensorInfo("w", DType.F32, new long[] {1L << 40, 1L << 40}));
        Codec c = Codec.parse("int8");
        assertEquals(Reason.TOO_LARGE, refusal(c, new byte[10], layout, DecodeLimits.of(1 << 30), 100_000));
    }
}
