package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The codecs against vectors computed by numpy and PyTorch ({@code src/test/python/make_vectors.py}):
 * payload bytes (scales, codes, indices) exactly, decoded values within 1e-6.
 */
class VectorsTest {

    static Stream<String> files() {
        return Stream.of("int8_g4", "int8_g64", "int4_g4", "int4_g3", "fp4_g4", "fp4_g32", "bf16", "f16", "fp8", "topk_025", "topk_01_int8");
    }

    private static JsonNode load(String file) throws IOException {
        try (InputStream in = VectorsTest.class.getResourceAsStream("/vectors/" + file + ".json")) {
            return new ObjectMapper().readTree(in);
        }
    }

    @ParameterizedTest
    @MethodSource("files")
    void payloadsAndDecodedValuesMatchTheReference(String file) throws IOException, CodecException {
        JsonNode root = load(file);
        TensorCodec codec = CodecSpec.parse(root.get("spec").asText());
        assertEquals(root.get("spec").asText(), codec.spec(), "the fixture names the canonical spec");
        int cases = 0;
        for (JsonNode c : root.get("cases")) {
            String what = file + " " + c.get("name").asText();
            long[] shape = new long[c.get("shape").size()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = c.get("shape").get(d).asLong();
            }
            float[] x = new float[c.get("x").size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = Float.intBitsToFloat((int) c.get("x").get(i).asLong());
            }
            Tensor t = Tensor.ofFloats(shape, x);
            byte[] want = HexFormat.of().parseHex(c.get("payload").asText());
            long size = codec.payloadSize(t.numel(), shape);
            assertEquals(want.length, size, what + ": payload size");
            byte[] got = new byte[(int) size];
            codec.encodeInto(t.data(), t.numel(), shape, MemorySegment.ofArray(got));
            assertEquals(HexFormat.of().formatHex(want), HexFormat.of().formatHex(got), what + ": payload bytes");

            TensorMap m = new TensorMap().put(c.get("name").asText(), t);
            float[] decoded = codec.decode(codec.encode(m), m.infos(), DecodeLimits.forLayout(m.infos()))
                    .tensor(c.get("name").asText()).toFloatArray();
            JsonNode ref = c.get("decoded");
            assertEquals(ref.size(), decoded.length, what);
            for (int i = 0; i < decoded.length; i++) {
                double r = ref.get(i).asDouble();
                assertTrue(Math.abs(decoded[i] - r) <= 1e-6 * Math.max(1, Math.abs(r)),
                        what + ": element " + i + " decoded " + decoded[i] + ", reference " + r);
            }
            cases++;
        }
        assertTrue(cases >= 9, "fixture has its cases");
    }
}
