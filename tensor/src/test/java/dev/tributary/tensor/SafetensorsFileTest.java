package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading files written by PyTorch's safetensors: every dtype, scalars, zero-size tensors, metadata. */
class SafetensorsFileTest {
    private static final Json.Obj EXPECTED = TestFixtures.json("all_dtypes.json");

    @TempDir
    Path tmp;

    @Test
    void readsEveryDtypeWrittenByPyTorch() {
        Json.Obj tensors = TestFixtures.obj(EXPECTED, "tensors");
        try (SafetensorsFile f = SafetensorsFile.open(TestFixtures.path("all_dtypes.safetensors"))) {
            assertEquals(tensors.members().keySet(), new java.util.HashSet<>(f.names()));
            for (Map.Entry<String, Json.Value> e : tensors.members().entrySet()) {
                checkTensor(f.tensor(e.getKey()), e.getKey(), e.getValue());
            }
        }
    }

    @Test
    void readsTheF6TypesAndPassesThemThroughUntouched() {
        Json.Obj f6 = TestFixtures.obj(EXPECTED, "f6");
        try (SafetensorsFile f = SafetensorsFile.open(TestFixtures.path("f6.safetensors"))) {
            assertEquals(List.of("e2m3", "e3m2"), f.names());
            for (Map.Entry<String, Json.Value> e : f6.members().entrySet()) {
                checkTensor(f.tensor(e.getKey()), e.getKey(), e.getValue());
            }
            assertEquals(DType.F6_E3M2, f.info("e3m2").dtype());
            assertFalse(DType.F6_E3M2.isArithmetic());
        }
    }

    private static void checkTensor(Tensor t, String name, Json.Value expected) {
        assertEquals(TestFixtures.str(expected, "dtype"), t.dtype().safetensorsName(), name);
        assertArrayEquals(TestFixtures.longs(expected, "shape"), t.shape(), name);
        byte[] raw = t.data().toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(TestFixtures.hex(TestFixtures.str(expected, "hex")), raw, name + " bytes");
        Json.Obj obj = (Json.Obj) expected;
        if (obj.members().containsKey("f32")) {
            long[] f32 = TestFixtures.longs(expected, "f32");
            assertEquals(t.numel(), f32.length, name);
            for (int i = 0; i < f32.length; i++) {
                float want = Float.intBitsToFloat((int) f32[i]);
                float got = t.getFloat(i);
                if (Float.isNaN(want)) {
                    assertTrue(Float.isNaN(got), name + "[" + i + "] is NaN");
                } else {
                    assertEquals((int) f32[i], Float.floatToRawIntBits(got), name + "[" + i + "] = " + want);
                }
            }
        }
        if (obj.members().containsKey("ints")) {
            List<Json.Value> ints = TestFixtures.arr(expected, "ints");
            for (int i = 0; i < ints.size(); i++) {
                BigInteger want = new BigInteger(((Json.Str) ints.get(i)).value());
                assertEquals(want, rawInteger(t, i), name + "[" + i + "]");
            }
        }
    }

    private static BigInteger rawInteger(Tensor t, long i) {
        var d = t.data();
        return switch (t.dtype()) {
            case BOOL, U8 -> BigInteger.valueOf(d.get(ValueLayout.JAVA_BYTE, i) & 0xFF);
            case I8 -> BigInteger.valueOf(d.get(ValueLayout.JAVA_BYTE, i));
            case I16 -> BigInteger.valueOf(d.get(Tensor.I16_LE, i * 2));
            case U16 -> BigInteger.valueOf(d.get(Tensor.I16_LE, i * 2) & 0xFFFF);
            case I32 -> BigInteger.valueOf(d.get(Tensor.I32_LE, i * 4));
            case U32 -> BigInteger.valueOf(d.get(Tensor.I32_LE, i * 4) & 0xFFFF_FFFFL);
            case I64 -> BigInteger.valueOf(d.get(Tensor.I64_LE, i * 8));
            case U64 -> new BigInteger(Long.toUnsignedString(d.get(Tensor.I64_LE, i * 8)));
            default -> throw new IllegalArgumentException(t.dtype() + " is not an integer type");
        };
    }

    @Test
    void metadataScalarsAndZeroSizeTensors() {
        try (SafetensorsFile f = SafetensorsFile.open(TestFixtures.path("all_dtypes.safetensors"))) {
            Json.Obj meta = TestFixtures.obj(EXPECTED, "metadata");
            assertEquals(meta.members().size(), f.metadata().size());
            meta.members().forEach((k, v) -> assertEquals(((Json.Str) v).value(), f.metadata().get(k), k));
            assertEquals("π ≈ 3.14159, \"quoted\"\n", f.metadata().get("unicode"));

            Tensor scalar = f.tensor("scalar");
            assertEquals(0, scalar.rank());
            assertEquals(1, scalar.numel());
            assertEquals(3.5f, scalar.getFloat(0));
            assertEquals(-42f, f.tensor("scalar_i64").getFloat(0));

            Tensor empty = f.tensor("empty");
            assertArrayEquals(new long[] {0, 3}, empty.shape());
            assertEquals(0, empty.byteSize());
            assertEquals(0, f.tensor("empty_bf16").numel());
            assertEquals(0, f.dataOffset() % 8, "safetensors pads the header to a multiple of 8");
            assertEquals(8 + f.headerLength(), f.dataOffset());
        }
    }

    @Test
    void tensorsAreReadOnlyViewsThatDieWithTheFile() {
        Tensor t;
        try (SafetensorsFile f = SafetensorsFile.open(TestFixtures.path("attn0.safetensors"))) {
            t = f.tensor("attn.0");
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, t.toFloatArray());
            assertTrue(t.data().isReadOnly());
            assertTrue(t.data().isMapped());
            Tensor view = t;
            assertThrows(IllegalArgumentException.class, () -> view.setFloat(0, 1f), "read-only");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> f.tensor("nope"));
            assertTrue(e.getMessage().endsWith("no tensor \"nope\""), e.getMessage());
        }
        Tensor closed = t;
        assertThrows(IllegalStateException.class, () -> closed.getFloat(0));
    }

    @Test
    void ourWriterReproducesTheByteExactVectorAndPythonsFile() throws IOException {
        Path ours = tmp.resolve("attn0.safetensors");
        Safetensors.write(ours, new TensorMap().put("attn.0", Tensor.ofFloats(new long[] {1, 2, 3}, 0, 1, 2, 3, 4, 5)));
        byte[] bytes = Files.readAllBytes(ours);
        String header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        assertEquals(64, java.lang.foreign.MemorySegment.ofArray(bytes).get(Tensor.I64_LE, 0));
        assertEquals(header + " ".repeat(64 - header.length()), new String(bytes, 8, 64, StandardCharsets.UTF_8));
        assertEquals(8 + 64 + 24, bytes.length);
        assertArrayEquals(Files.readAllBytes(TestFixtures.path("attn0.safetensors")), bytes,
                "identical to the file safetensors itself wrote");
    }

    /** A sparse file past 4 GiB: offsets, sizes and views are longs all the way. */
    @Test
    void filesBeyondFourGibibytesMapAndRead() throws IOException {
        long big = (1L << 32) + 4096;
        long count = big / 4;
        String json = "{\"small\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"huge\":{\"dtype\":\"F32\",\"shape\":[" + count + "],\"data_offsets\":[8," + (8 + big) + "]}}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        Path p = tmp.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.setLength(8 + header.length + 8 + big);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            raf.write(header);
            raf.seek(8 + header.length + 8 + big - 4);
            raf.write(new byte[] {0, 0, (byte) 0x80, 0x3F}); // 1.0f, little-endian, as the last element
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Tensor huge = f.tensor("huge");
            assertEquals(count, huge.numel());
            assertEquals(big, huge.byteSize());
            assertEquals(1f, huge.getFloat(count - 1));
            assertEquals(0f, huge.getFloat(count / 2));
            assertEquals(0.0, Kernels.sum(f.tensor("small").data(), 2));
        }
    }

    @Test
    void missingFileNamesThePath() {
        Path p = tmp.resolve("absent.safetensors");
        java.io.UncheckedIOException e = assertThrows(java.io.UncheckedIOException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().startsWith(p + ": cannot read"), e.getMessage());
    }

    @Test
    void readAllCopiesIntoMemory() {
        TensorMap m = Safetensors.readAll(TestFixtures.path("all_dtypes.safetensors"));
        List<String> names = new ArrayList<>(m.names());
        try (SafetensorsFile f = SafetensorsFile.open(TestFixtures.path("all_dtypes.safetensors"))) {
            assertEquals(f.names(), names);
            for (String n : names) {
                assertTrue(f.tensor(n).contentEquals(m.get(n)), n);
                assertFalse(m.get(n).data().isMapped(), n + " is a copy");
            }
            assertEquals(f.metadata(), m.metadata());
        }
    }
}
