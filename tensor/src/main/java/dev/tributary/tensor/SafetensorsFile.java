package dev.tributary.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading: memory-mapped read-only as a whole (files beyond 2 GiB are
 * fine), its header validated completely on {@link #open}, and every tensor a zero-copy view of the
 * mapping that stays valid until {@link #close()}. Safe to read from several threads.
 */
public final class SafetensorsFile implements TensorSource {
    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final SafetensorsHeader header;
    private final List<String> names;
    private final List<TensorInfo> infos;
    private boolean closed;

    private SafetensorsFile(Path path, Arena arena, MemorySegment file, SafetensorsHeader header) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.header = header;
        List<String> n = new ArrayList<>();
        List<TensorInfo> i = new ArrayList<>();
        for (SafetensorsHeader.Entry e : header.entries()) {
            n.add(e.info().name());
            i.add(e.info());
        }
        this.names = List.copyOf(n);
        this.infos = List.copyOf(i);
    }

    /**
     * Maps {@code path} and validates its header.
     *
     * @throws InvalidCheckpointException when the file breaks a rule of the format
     * @throws UncheckedIOException       when it cannot be read
     */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment file = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            SafetensorsHeader header = SafetensorsHeader.parse(path.toString(), file);
            return new SafetensorsFile(path, arena, file, header);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException(path + ": cannot read: " + e, e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** The path this file was opened from. */
    public Path path() {
        return path;
    }

    /** N, the length of the JSON header in bytes. */
    public long headerLength() {
        return header.headerLength();
    }

    /** Where the data section starts in the file: 8 + N. */
    public long dataOffset() {
        return header.dataOffset();
    }

    /** Size of the whole file in bytes. */
    public long fileSize() {
        return file.byteSize();
    }

    @Override
    public List<String> names() {
        return names;
    }

    @Override
    public List<TensorInfo> infos() {
        return infos;
    }

    @Override
    public boolean contains(String name) {
        return header.entry(name) != null;
    }

    /** Name, dtype and shape of one tensor. */
    public TensorInfo info(String name) {
        return entry(name).info();
    }

    /** A read-only view of the tensor's bytes in the mapping; valid until {@link #close()}. */
    @Override
    public Tensor tensor(String name) {
        SafetensorsHeader.Entry e = entry(name);
        MemorySegment data = file.asSlice(header.dataOffset() + e.begin(), e.byteSize());
        return Tensor.of(e.info().dtype(), e.info().shape(), data);
    }

    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** Unmaps the file; tensors obtained from it must not be used afterwards. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            arena.close();
        }
    }

    private SafetensorsHeader.Entry entry(String name) {
        SafetensorsHeader.Entry e = header.entry(name);
        if (e == null) {
            throw new IllegalArgumentException(path + ": no tensor " + Json.quote(name));
        }
        return e;
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + names.size() + " tensors]";
    }
}
