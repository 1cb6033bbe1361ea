package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors images in memory: encoded as a file would be, read back as zero-copy views. */
class SafetensorsInMemoryTest {
    @TempDir
    Path tmp;

    private static TensorMap model() {
        Arena arena = Arena.ofAuto();
        TensorMap m = new TensorMap();
        Tensor w = Tensor.allocate(DType.F32, new long[] {2, 3}, arena);
        for (int i = 0; i < 6; i++) {
            w.data().setAtIndex(Tensor.F32_LE, i, i * 0.5f - 1);
        }
        Tensor b = Tensor.allocate(DType.I64, new long[] {1}, arena);
        b.data().set(Tensor.I64_LE, 0, 42L);
        m.put("layer \"0\".weight", w).put("bias", b);
        m.putMetadata("format", "pt").putMetadata("note", "line\nbreak");
        return m;
    }

    @Test
    void encodeMakesTheBytesOfTheFileWrite() throws IOException {
        TensorMap m = model();
        Path p = tmp.resolve("m.safetensors");
        Safetensors.write(p, m);
        MemorySegment image = Safetensors.encode(m, m.metadata(), Arena.ofAuto());
        assertArrayEquals(Files.readAllBytes(p), image.toArray(ValueLayout.JAVA_BYTE));
        assertEquals(image.byteSize(), Safetensors.encodedSize(m, m.metadata()));
    }

    @Test
    void sha256IsTheDigestOfTheFileWriteMakes() throws Exception {
        TensorMap m = model();
        Path p = tmp.resolve("m.safetensors");
        Safetensors.write(p, m);
        byte[] file = java.security.MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p));
        assertArrayEquals(file, Safetensors.sha256(m));
        m.tensor("bias").data().set(Tensor.I64_LE, 0, 43L);
        assertEquals(false, java.util.Arrays.equals(file, Safetensors.sha256(m)), "a changed value changes the digest");
    }

    @Test
    void ofReadsViewsOfTheGivenBytes() {
        TensorMap m = model();
        MemorySegment image = Safetensors.encode(m, m.metadata(), Arena.ofAuto());
        try (SafetensorsFile f = SafetensorsFile.of(image, "delta")) {
            assertEquals(m.names(), f.names());
            assertEquals(Map.of("format", "pt", "note", "line\nbreak"), f.metadata());
            assertEquals("delta", f.label());
            assertNull(f.path());
            assertEquals(image.byteSize(), f.fileSize());
            for (String name : m.names()) {
                Tensor t = f.tensor(name);
                assertEquals(m.tensor(name).dtype(), t.dtype());
                assertArrayEquals(m.tensor(name).shape(), t.shape());
                assertArrayEquals(m.tensor(name).data().toArray(ValueLayout.JAVA_BYTE), t.data().toArray(ValueLayout.JAVA_BYTE));
            }
            // Zero-copy: a write through the image shows in the tensor's view.
            Tensor w = f.tensor("layer \"0\".weight");
            image.set(Tensor.F32_LE, f.dataOffset(), 7.25f);
            assertEquals(7.25f, w.data().get(Tensor.F32_LE, 0));
            assertEquals("delta: no tensor \"missing\"",
                    assertThrows(IllegalArgumentException.class, () -> f.tensor("missing")).getMessage());
        }
        // Closing left the caller's bytes usable.
        assertEquals(7.25f, image.get(Tensor.F32_LE, 8 + SafetensorsFile.of(image, "again").headerLength()));
    }
}
