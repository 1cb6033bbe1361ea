package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every rule of the format, broken once: each gets its own one-line message naming file, rule and tensor. */
class SafetensorsMalformedTest {
    @TempDir
    Path tmp;

    private static final String A24 = "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";

    /** A file with the given header (length prefix computed) followed by {@code dataBytes} zero bytes. */
    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return raw(h.length, h, dataBytes);
    }

    private Path raw(long declaredLength, byte[] header, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        Path p = tmp.resolve("model.safetensors");
        Files.write(p, b.array());
        return p;
    }

    /**
     * Opens {@code p}, expects a failure, and returns the problem after the "{path}: " prefix; reading
     * the same bytes from memory, on and off the heap, must fail with the same problem under its label.
     */
    private static String problem(Path p) throws IOException {
        InvalidCheckpointException e = assertThrows(InvalidCheckpointException.class, () -> SafetensorsFile.open(p));
        assertEquals(p.toString(), e.source());
        assertEquals(p + ": " + e.problem(), e.getMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'), "one line");
        byte[] bytes = Files.readAllBytes(p);
        MemorySegment offHeap = Arena.ofAuto().allocate(Math.max(1, bytes.length)).asSlice(0, bytes.length);
        offHeap.copyFrom(MemorySegment.ofArray(bytes));
        for (MemorySegment image : new MemorySegment[] {MemorySegment.ofArray(bytes), offHeap}) {
            InvalidCheckpointException m = assertThrows(InvalidCheckpointException.class,
                    () -> SafetensorsFile.of(image, "delta"));
            assertEquals("delta", m.source());
            assertEquals("delta: " + e.problem(), m.getMessage());
        }
        return e.problem();
    }

    @Test
    void validFileOpens() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file("{" + A24 + "}", 24))) {
            assertEquals(1, f.names().size());
        }
    }

    @Test
    void headerTooSmall() throws IOException {
        Path p = tmp.resolve("tiny.safetensors");
        Files.write(p, new byte[] {1, 2, 3, 4, 5});
        assertEquals("header too small: the file has 5 bytes, fewer than the 8 of the header length", problem(p));
        Files.write(p, new byte[0]);
        assertEquals("header too small: the file has 0 bytes, fewer than the 8 of the header length", problem(p));
    }

    @Test
    void headerTooLarge() throws IOException {
        assertEquals("header too large: length 100000001 exceeds the limit of 100000000 bytes",
                problem(raw(100_000_001, new byte[16], 0)));
        assertEquals("header too large: length 18446744073709551615 exceeds the limit of 100000000 bytes",
                problem(raw(-1L, new byte[16], 0)));
    }

    @Test
    void headerLengthPastTheEnd() throws IOException {
        assertEquals("header length 100 runs past the end of the file (58 bytes, so at most 50)",
                problem(raw(100, new byte[50], 0)));
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] h = "{\"a\u00e9\":1}".getBytes(StandardCharsets.ISO_8859_1);
        assertEquals("header is not valid UTF-8 (bad byte at offset 3 of the header)", problem(raw(h.length, h, 0)));
    }

    @Test
    void headerMustStartWithABrace() throws IOException {
        assertEquals("header does not start with '{'", problem(file(" {}", 0)));
        assertEquals("header does not start with '{'", problem(file("", 0)));
        assertEquals("header does not start with '{'", problem(file("[]", 0)));
    }

    @Test
    void headerNotJson() throws IOException {
        assertEquals("header is not valid JSON: unexpected end of input, expected a value at character 5",
                problem(file("{\"a\":", 0)));
        assertEquals("header is not valid JSON: unexpected 'x' after the document at character 4",
                problem(file("{}  x", 0)));
        assertEquals("header is not valid JSON: duplicate key \"a\" at character " + (A24.length() + 2),
                problem(file("{" + A24 + "," + A24 + "}", 24)));
    }

    @Test
    void trailingSpacesAndNewlinesArePadding() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file("{" + A24 + "}  \n\t ", 24))) {
            assertEquals(8 + 5 + A24.length() + 2, f.dataOffset());
        }
    }

    @Test
    void unknownDtype() throws IOException {
        assertEquals("tensor \"a\": unknown dtype \"F7\"",
                problem(file("{\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": unknown dtype \"f32\"",
                problem(file("{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)));
    }

    @Test
    void missingField() throws IOException {
        assertEquals("tensor \"a\": missing field \"shape\"",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": missing field \"data_offsets\"",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)));
        assertEquals("tensor \"a\": missing field \"dtype\"", problem(file("{\"a\":{}}", 0)));
    }

    @Test
    void wrongTypes() throws IOException {
        assertEquals("tensor \"a\": expected an object with dtype, shape and data_offsets, got an array",
                problem(file("{\"a\":[1,2]}", 0)));
        assertEquals("tensor \"a\": \"dtype\" must be a string, got a number",
                problem(file("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": \"shape\" must be an array of non-negative integers, got a string",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": \"shape\" must be an array of non-negative integers, found 1.5",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": \"data_offsets\" must be [begin, end] with non-negative integers, got [0,4,8]",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4)));
        assertEquals("tensor \"a\": \"data_offsets\" must be [begin, end] with non-negative integers, got [-4,0]",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4)));
    }

    @Test
    void unknownFieldsInATensorAreIgnoredAsTheReferenceDoes() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(
                file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":{\"x\":[null]}}}", 4))) {
            assertEquals(DType.F32, f.info("a").dtype());
        }
    }

    @Test
    void gapBetweenTensors() throws IOException {
        assertEquals("tensor \"b\": data_offsets [28,32] leave a gap: bytes [24,28) of the data belong to no tensor",
                problem(file("{" + A24 + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[28,32]}}", 32)));
        assertEquals("tensor \"a\": data_offsets [4,28] leave a gap: bytes [0,4) of the data belong to no tensor",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[4,28]}}", 28)));
    }

    @Test
    void overlappingTensors() throws IOException {
        assertEquals("tensor \"b\": data_offsets [16,40] overlap tensor \"a\" [0,24]",
                problem(file("{\"b\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[16,40]}," + A24 + "}", 40)));
    }

    @Test
    void sizeMismatch() throws IOException {
        assertEquals("tensor \"a.weight\": data_offsets [0,20] hold 20 bytes but F32 [2,3] needs 24",
                problem(file("{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20)));
    }

    @Test
    void shapeOverflow() throws IOException {
        assertEquals("tensor \"a\": shape overflow: [4294967296,4294967296] has more than 2^63-1 elements",
                problem(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": shape overflow: F32 [4611686018427387904] needs more than 2^63-1 bits",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", 4)));
        assertEquals("tensor \"a\": shape overflow: dimension 18446744073709551615 exceeds 2^63-1",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615],\"data_offsets\":[0,4]}}", 4)));
    }

    @Test
    void negativeDimension() throws IOException {
        assertEquals("tensor \"a\": negative dimension -1 in shape",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,4]}}", 4)));
    }

    @Test
    void subByteTensorsMustFillWholeBytes() throws IOException {
        assertEquals("tensor \"a\": F4 [3] is 12 bits, not a whole number of bytes",
                problem(file("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2)));
        try (SafetensorsFile f = SafetensorsFile.open(
                file("{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3))) {
            assertEquals(3, f.tensor("a").byteSize());
        }
    }

    @Test
    void trailingBytes() throws IOException {
        assertEquals("4 trailing bytes after the last tensor (the data holds 28 bytes, the tensors cover 24)",
                problem(file("{" + A24 + "}", 28)));
        assertEquals("3 trailing bytes after the last tensor (the data holds 3 bytes, the tensors cover 0)",
                problem(file("{}", 3)));
    }

    @Test
    void truncatedData() throws IOException {
        assertEquals("truncated data: tensor \"a\" ends at byte 24 of the data but the file holds only 20 data bytes",
                problem(file("{" + A24 + "}", 20)));
    }

    @Test
    void nonStringMetadata() throws IOException {
        assertEquals("__metadata__ \"epoch\": value must be a string, got a number",
                problem(file("{\"__metadata__\":{\"format\":\"pt\",\"epoch\":3}}", 0)));
        assertEquals("\"__metadata__\" must be an object of strings, got an array",
                problem(file("{\"__metadata__\":[\"pt\"]}", 0)));
        try (SafetensorsFile f = SafetensorsFile.open(file("{\"__metadata__\":null}", 0))) {
            assertEquals(0, f.metadata().size());
        }
    }

    @Test
    void endBeforeBegin() throws IOException {
        assertEquals("tensor \"a\": data_offsets [24,0]: end before begin",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[24,0]}}", 24)));
    }

    @Test
    void offsetsBeyondAnyFile() throws IOException {
        assertEquals("tensor \"a\": data_offsets [0,18446744073709551615] lie past the end of any file (limit 2^63-1)",
                problem(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,18446744073709551615]}}", 24)));
    }

    @Test
    void emptyHeaderObjectIsAValidEmptyFile() throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file("{}", 0))) {
            assertEquals(0, f.names().size());
        }
    }
}
