package dev.tributary.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.TestModels;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** Images in memory as the coordinator encodes, decodes, refuses and serves them. */
class ModelImageTest {

    @Test
    void encodesTheReferenceByteExactVector() {
        TensorMap m = new TensorMap().put("attn.0", Tensor.ofFloats(new long[] {1, 2, 3}, 0, 1, 2, 3, 4, 5));
        MemorySegment img = SafetensorsBytes.encode(m, Map.of(), Arena.ofAuto());
        long n = img.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        assertEquals(64, n);
        String header = new String(img.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        assertEquals("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}", header.strip());
        assertEquals(8 + 64 + 24, img.byteSize());
    }

    @Test
    void roundTripsTensorsAndMetadata() {
        TensorMap m = TestModels.model(3);
        m.put("h", Tensor.ofFloats(DType.BF16, new long[] {2}, 1.5f, -2f));
        m.put("scalar", Tensor.ofFloats(new long[] {}, 7f));
        m.put("empty", Tensor.ofFloats(new long[] {0, 4}));
        MemorySegment img = SafetensorsBytes.encode(m, Map.of("k", "v \"quoted\"\n"), Arena.ofAuto());
        assertEquals(img.byteSize(), SafetensorsBytes.encodedSize(m, Map.of("k", "v \"quoted\"\n")));
        TensorMap d = ModelImage.tensors(img, "delta");
        assertEquals(m.names(), d.names());
        for (String name : m.names()) {
            assertTrue(m.tensor(name).contentEquals(d.tensor(name)), name);
        }
        assertEquals(Map.of("k", "v \"quoted\"\n"), d.metadata());
        // Views, not copies: the validator's clipping scales the received bytes in place.
        long at = d.tensor("h").data().address() - img.address();
        assertTrue(at >= 8 && at + 4 <= img.byteSize(), "view inside the image");
        img.set(ValueLayout.JAVA_SHORT_UNALIGNED, at, (short) 0);
        assertEquals(0f, d.tensor("h").getFloat(0));
    }

    private static MemorySegment withHeader(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        MemorySegment s = Arena.ofAuto().allocate(8 + h.length + dataBytes);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, h.length);
        MemorySegment.copy(h, 0, s, ValueLayout.JAVA_BYTE, 8, h.length);
        return s;
    }

    private static String refusal(String json, int dataBytes) {
        return refusal(withHeader(json, dataBytes));
    }

    private static String refusal(MemorySegment image) {
        InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> ModelImage.tensors(image, "delta"));
        assertEquals("delta", e.source());
        return e.getMessage();
    }

    @Test
    void refusesEachBrokenRuleWithItsOwnMessage() {
        assertEquals("delta: 4 trailing bytes after the last tensor (the data holds 12 bytes, the tensors cover 8)",
                refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12));
        assertEquals("delta: tensor \"a\": data_offsets [4,12] leave a gap: bytes [0,4) of the data belong to no tensor",
                refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        assertEquals("delta: tensor \"b\": data_offsets [4,8] overlap tensor \"a\" [0,8]",
                refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8));
        assertEquals("delta: tensor \"a\": unknown dtype \"F33\"",
                refusal("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
        assertEquals("delta: tensor \"a\": data_offsets [0,8] hold 8 bytes but F32 [3] needs 12",
                refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8));
        assertEquals("delta: tensor \"a\": data_offsets [8,0]: end before begin",
                refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8));
        assertTrue(refusal("{\"a\":1,\"a\":2}", 0).startsWith("delta: header is not valid JSON: duplicate key \"a\""));
        assertEquals("delta: __metadata__ \"k\": value must be a string, got a number",
                refusal("{\"__metadata__\":{\"k\":1}}", 0));
        assertEquals("delta: tensor \"a\": \"shape\" must be an array of non-negative integers, found 2.5",
                refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8));
        assertEquals("delta: header does not start with '{'", refusal("[1]", 0));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8)
                .startsWith("delta: tensor \"a\": shape overflow"));
        MemorySegment s = Arena.ofAuto().allocate(16);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, 1L << 40);
        assertEquals("delta: header too large: length 1099511627776 exceeds the limit of 100000000 bytes", refusal(s));
    }

    @Property(tries = 300)
    void mutatedImagesDecodeOrFailCleanly(@ForAll @IntRange(min = 0, max = 200) int at, @ForAll byte value,
            @ForAll @IntRange(min = 0, max = 40) int cut) {
        MemorySegment img = SafetensorsBytes.encode(TestModels.model(1), Map.of("a", "b"), Arena.ofAuto());
        MemorySegment copy = Arena.ofAuto().allocate(img.byteSize() - cut);
        copy.copyFrom(img.asSlice(0, copy.byteSize()));
        if (at < copy.byteSize()) {
            copy.set(ValueLayout.JAVA_BYTE, at, value);
        }
        try {
            TensorMap d = ModelImage.tensors(copy, "delta");
            long dataOffset = 8 + copy.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            assertEquals(copy.byteSize() - dataOffset, d.asMap().values().stream().mapToLong(Tensor::byteSize).sum());
        } catch (InvalidCheckpointException expected) {
            assertTrue(expected.getMessage().startsWith("delta: ") && expected.getMessage().indexOf('\n') < 0,
                    expected.getMessage());
        }
    }

    @Test
    void modelImageHashesAndChunksItsBytes() {
        TensorMap m = TestModels.model(5);
        ModelImage a = ModelImage.of(3, m);
        ModelImage b = ModelImage.of(3, SafetensorsBytes.encode(m, Map.of(), Arena.ofAuto()));
        assertArrayEquals(a.sha256(), b.sha256());
        assertEquals(64, a.sha256Hex().length());
        assertEquals(1, a.chunkCount());
        assertEquals(ModelImage.crc32c(MemorySegment.ofArray(a.chunk(0))), a.chunkCrc(0));
        assertEquals(a.size(), a.chunk(0).length);
        ModelImage other = ModelImage.of(3, TestModels.model(6));
        assertTrue(!a.sha256Hex().equals(other.sha256Hex()));
    }
}
