package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The write-behind path of {@link SafetensorsWriter}, with small staging buffers so files span many. */
class WriteBehindTest {
    static final int CHUNK = 64 << 10;

    @TempDir
    Path tmp;

    @AfterEach
    void removeHook() {
        WriteBehind.hook = null;
    }

    /** Tensors of odd sizes that straddle staging buffers; {@code seed} varies the values. */
    static TensorMap model(int seed) {
        TensorMap m = new TensorMap();
        int[] sizes = {100_003, 7, 65_536, 40_001};
        for (int k = 0; k < sizes.length; k++) {
            float[] v = new float[sizes[k]];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) Math.sin(seed * 1_000_003L + k * 7919L + i);
            }
            m.put("t" + k, Tensor.ofFloats(new long[] {v.length}, v));
        }
        return m;
    }

    static void write(Path target, TensorMap m, boolean allowDirect, long flushBytes) {
        try (SafetensorsWriter w = SafetensorsWriter.create(target, m.infos(), Map.of("format", "pt"), allowDirect,
                CHUNK, flushBytes)) {
            for (String name : m.names()) {
                w.write(name, m.get(name));
            }
        }
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void directAndBufferedWritesGiveTheSameBytesAsTheReference() throws IOException {
        TensorMap m = model(1);
        // The reference: the header and every tensor's bytes, one after the other.
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        bytes.write(SafetensorsHeader.encode(m.infos(), Map.of("format", "pt")));
        for (String name : m.names()) {
            bytes.write(m.get(name).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        }
        byte[] expected = bytes.toByteArray();
        List<String> events = new ArrayList<>();
        WriteBehind.hook = e -> {
            synchronized (events) {
                events.add(e);
            }
        };
        Path direct = tmp.resolve("direct.safetensors");
        Path buffered = tmp.resolve("buffered.safetensors");
        write(direct, m, true, Long.MAX_VALUE);
        int directChunks = events.size();
        events.clear();
        write(buffered, m, false, 2L * CHUNK);
        assertArrayEquals(expected, Files.readAllBytes(direct));
        assertArrayEquals(expected, Files.readAllBytes(buffered));
        // 820 KiB in 64 KiB buffers: 12 full ones (and a partial one) reach the file through the writer
        // thread; through the page cache a flush follows every second buffer.
        long full = expected.length / CHUNK;
        assertTrue(directChunks >= full && directChunks <= full + 1, "direct chunks: " + directChunks);
        assertEquals(full + 1, events.stream().filter("chunk"::equals).count(), events.toString());
        assertEquals((full + 1) / 2, events.stream().filter("flush"::equals).count(), events.toString());
        try (SafetensorsFile f = SafetensorsFile.open(direct)) {
            for (String name : m.names()) {
                assertTrue(m.get(name).contentEquals(f.tensor(name)), name);
            }
        }
        assertEquals(List.of("buffered.safetensors", "direct.safetensors"), listing());
    }

    @Test
    void aFailingWriterThreadFailsTheWriteAndLeavesTheOldFile() throws IOException {
        Path target = tmp.resolve("model.safetensors");
        write(target, model(1), true, Long.MAX_VALUE);
        byte[] before = Files.readAllBytes(target);
        AtomicInteger chunks = new AtomicInteger();
        WriteBehind.hook = e -> {
            if (e.equals("chunk") && chunks.incrementAndGet() == 3) {
                throw new IllegalStateException("disk on fire");
            }
        };
        for (boolean direct : new boolean[] {true, false}) {
            chunks.set(0);
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> write(target, model(2), direct, Long.MAX_VALUE));
            assertTrue(e.getMessage().contains("disk on fire"), e.getMessage());
            assertTrue(e.getMessage().contains(target.toString()), e.getMessage());
            assertArrayEquals(before, Files.readAllBytes(target));
            assertEquals(List.of("model.safetensors"), listing(), "temporary file removed");
        }
    }

    @Test
    void bufferedModeIsUsedWhenDirectIsNotAllowed() throws IOException {
        Path p = tmp.resolve("x");
        WriteBehind w = WriteBehind.create(p, false, CHUNK, Long.MAX_VALUE);
        try {
            assertFalse(w.direct());
            w.write(java.lang.foreign.MemorySegment.ofArray(new byte[] {1, 2, 3}));
            w.finish();
        } finally {
            w.abort();
        }
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(p));
        assertThrows(IOException.class, () -> WriteBehind.create(p, true, CHUNK, Long.MAX_VALUE), "file exists");
    }
}
