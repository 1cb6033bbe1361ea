package dev.tributary.coordinator.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.TestModels;
import dev.tributary.tensor.DType;
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

class SafetensorsBytesTest {

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
        SafetensorsBytes.Decoded d = SafetensorsBytes.decode(img);
        assertEquals(m.names(), d.tensors().names());
        for (String name : m.names()) {
            assertTrue(m.tensor(name).contentEquals(d.tensors().tensor(name)), name);
        }
        assertEquals(Map.of("k", "v \"quoted\"\n"), d.metadata());
    }

    private static MemorySegment withHeader(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        MemorySegment s = Arena.ofAuto().allocate(8 + h.length + dataBytes);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, h.length);
        MemorySegment.copy(h, 0, s, ValueLayout.JAVA_BYTE, 8, h.length);
        return s;
    }

    private static String refusal(String json, int dataBytes) {
        return assertThrows(MalformedSafetensorsException.class, () -> SafetensorsBytes.decode(withHeader(json, dataBytes)))
                .getMessage();
    }

    @Test
    void refusesEachBrokenRuleWithItsOwnMessage() {
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12).contains("cover 8 data bytes but the image holds 12"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12).contains("gap"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8).contains("overlaps"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8).contains("unknown dtype"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8).contains("needs 12"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8).contains("end 0 < begin 8"));
        assertTrue(refusal("{\"a\":1,\"a\":2}", 0).contains("duplicate key"));
        assertTrue(refusal("{\"__metadata__\":{\"k\":1}}", 0).contains("not a string"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8).contains("not an integer"));
        assertTrue(refusal("[1]", 0).contains("does not start with '{'"));
        assertTrue(refusal("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8).contains("overflows"));
        MemorySegment s = Arena.ofAuto().allocate(16);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, 1L << 40);
        assertTrue(assertThrows(MalformedSafetensorsException.class, () -> SafetensorsBytes.decode(s)).getMessage().contains("> 100000000"));
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
            SafetensorsBytes.Decoded d = SafetensorsBytes.decode(copy);
            assertEquals(copy.byteSize() - d.dataOffset(), d.tensors().asMap().values().stream().mapToLong(Tensor::byteSize).sum());
        } catch (MalformedSafetensorsException expected) {
            assertTrue(!expected.getMessage().isBlank());
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
