package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir
    Path tmp;

    private static final Tensor A = Tensor.ofFloats(new long[] {2, 2}, 1, 2, 3, 4);
    private static final Tensor B = Tensor.ofFloats(DType.BF16, new long[] {3}, -1, 0.5f, 7);

    private List<String> dirListing() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void roundTripsEveryFixtureTensorByteForByte() {
        Path out = tmp.resolve("copy.safetensors");
        try (SafetensorsFile src = SafetensorsFile.open(TestFixtures.path("all_dtypes.safetensors"))) {
            Safetensors.write(out, src);
            try (SafetensorsFile back = SafetensorsFile.open(out)) {
                assertEquals(src.names(), back.names(), "header order kept");
                assertEquals(src.infos(), back.infos());
                assertEquals(src.metadata(), back.metadata());
                for (String n : src.names()) {
                    assertTrue(src.tensor(n).contentEquals(back.tensor(n)), n);
                }
                assertEquals(0, back.dataOffset() % 8);
            }
        }
    }

    @Test
    void headerListsTensorsInOrderThenMetadataPaddedWithSpaces() throws IOException {
        Path p = tmp.resolve("m.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("note", "tab\there \"quoted\" \\ π\u0001");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(B.info("z"), A.info("a")), meta)) {
            w.write("z", B);
            w.write("a", A);
        }
        byte[] bytes = Files.readAllBytes(p);
        long n = MemorySegment.ofArray(bytes).get(Tensor.I64_LE, 0);
        assertEquals(0, n % 8);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals("{\"z\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[6,22]},"
                + "\"__metadata__\":{\"format\":\"pt\",\"note\":\"tab\\there \\\"quoted\\\" \\\\ π\\u0001\"}}", header.stripTrailing());
        assertTrue(header.length() - header.stripTrailing().length() < 8);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(meta, f.metadata());
            assertEquals(List.of("z", "a"), f.names());
            assertArrayEquals(new float[] {-1, 0.5f, 7}, f.tensor("z").toFloatArray());
        }
    }

    @Test
    void writesMustFollowTheDeclaration() throws IOException {
        Path p = tmp.resolve("x.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, List.of(A.info("a"), B.info("b")), Map.of())) {
            IllegalArgumentException wrongName = assertThrows(IllegalArgumentException.class, () -> w.write("b", B));
            assertEquals(p + ": expected tensor \"a\" next, got \"b\"", wrongName.getMessage());
            IllegalArgumentException wrongShape = assertThrows(IllegalArgumentException.class,
                    () -> w.write("a", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4)));
            assertEquals(p + ": tensor \"a\": F32 [4] != declared F32 [2,2]", wrongShape.getMessage());
            IllegalArgumentException wrongType = assertThrows(IllegalArgumentException.class,
                    () -> w.write("a", A.castTo(DType.F16, Arena.ofAuto())));
            assertEquals(p + ": tensor \"a\": F16 [2,2] != declared F32 [2,2]", wrongType.getMessage());
            w.write("a", A);
            w.write("b", B);
            IllegalStateException extra = assertThrows(IllegalStateException.class, () -> w.write("c", A));
            assertTrue(extra.getMessage().contains("all 2 declared tensors are already written"), extra.getMessage());
        }
        assertEquals(List.of("x.safetensors"), dirListing());
    }

    @Test
    void closingEarlyRemovesTheTemporaryFileAndLeavesTheTargetUntouched() throws IOException {
        Path p = tmp.resolve("keep.safetensors");
        Files.writeString(p, "previous content");
        SafetensorsWriter w = SafetensorsWriter.create(p, List.of(A.info("a"), B.info("b")), Map.of());
        w.write("a", A);
        assertEquals(2, dirListing().size(), "the temporary file sits beside the target while writing");
        IllegalStateException e = assertThrows(IllegalStateException.class, w::close);
        assertEquals(p + ": closed after 1 of 2 declared tensors; not written: \"b\" (target left untouched)", e.getMessage());
        assertEquals("previous content", Files.readString(p));
        assertEquals(List.of("keep.safetensors"), dirListing());
        w.close();
        assertThrows(IllegalStateException.class, () -> w.write("b", B));
    }

    @Test
    void replacesAnExistingFileAtomicallyEvenWhenReadingFromIt() {
        Path p = tmp.resolve("self.safetensors");
        Safetensors.write(p, new TensorMap().put("a", A).putMetadata("v", "1"));
        try (SafetensorsFile src = SafetensorsFile.open(p)) {
            Safetensors.write(p, src);
            assertArrayEquals(new float[] {1, 2, 3, 4}, src.tensor("a").toFloatArray(), "old mapping still valid");
        }
        TensorMap back = Safetensors.readAll(p);
        assertTrue(back.get("a").contentEquals(A));
        assertEquals(Map.of("v", "1"), back.metadata());
    }

    @Test
    void rejectsDeclarationsThatCannotBeStored() {
        Path p = tmp.resolve("bad.safetensors");
        assertEquals(p + ": tensor \"a\" declared twice", assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.create(p, List.of(A.info("a"), A.info("a")), Map.of())).getMessage());
        assertEquals(p + ": a tensor cannot be called __metadata__", assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.create(p, List.of(A.info("__metadata__")), Map.of())).getMessage());
        assertEquals(p + ": tensor \"f\": F4 [3] is 12 bits, not a whole number of bytes",
                assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(p,
                        List.of(new TensorInfo("f", DType.F4, new long[] {3})), Map.of())).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.create(p,
                List.of(A.info("bad\uD800name")), Map.of())).getMessage().contains("lone surrogate"));
        assertFalse(Files.exists(p));
    }

    @Test
    void scalarsZeroSizeAndEmptyFiles() throws IOException {
        Path p = tmp.resolve("s.safetensors");
        Tensor scalar = Tensor.ofFloats(DType.F64, new long[] {}, 2.5f);
        Tensor empty = Tensor.allocate(DType.I32, new long[] {4, 0}, Arena.ofAuto());
        Safetensors.write(p, new TensorMap().put("empty", empty).put("scalar", scalar));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(2.5f, f.tensor("scalar").getFloat(0));
            assertArrayEquals(new long[] {4, 0}, f.tensor("empty").shape());
        }
        Path none = tmp.resolve("none.safetensors");
        Safetensors.write(none, new TensorMap());
        assertEquals(16, Files.size(none), "length + \"{}\" padded to 8");
        try (SafetensorsFile f = SafetensorsFile.open(none)) {
            assertEquals(List.of(), f.names());
        }
    }
}
