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
import java.util.Objects;

/**
 * A safetensors file opened for reading: memory-mapped read-only as a whole (files beyond 2 GiB are
 * fine), its header validated completely on {@link #open}, and every tensor a zero-copy view of the
 * mapping that stays valid until {@link #close()}. Safe to read from several threads. Bytes already in
 * memory (a model or delta received from the network) are read the same way through {@link #of}.
 */
public final class SafetensorsFile implements TensorSource {
    private final Path path;
    private final String label;
    private final Arena arena;
    private final MemorySegment file;
    private final SafetensorsHeader header;
    private final List<String> names;
    private final List<TensorInfo> infos;
    private boolean closed;

    private SafetensorsFile(Path path, String label, Arena arena, MemorySegment file, SafetensorsHeader header) {
        this.path = path;
        this.label = label;
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
            return new SafetensorsFile(path, path.toString(), arena, file, header);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException(path + ": cannot read: " + e, e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Validates the safetensors image {@code bytes} held in memory, exactly as {@link #open} validates a
     * file, and gives its tensors as zero-copy views of {@code bytes}. The caller keeps owning
     * {@code bytes}: {@link #close()} leaves them alone, and the views live as long as they do.
     *
     * @param label names the image in messages, e.g. {@code delta: header too small: ...}
     * @throws InvalidCheckpointException when the bytes break a rule of the format
     */
    public static SafetensorsFile of(MemorySegment bytes, String label) {
        Objects.requireNonNull(bytes, "bytes");
        Objects.requireNonNull(label, "label");
        SafetensorsHeader header = SafetensorsHeader.parse(label, bytes);
        return new SafetensorsFile(null, label, null, bytes, header);
    }

    /** The path this file was opened from, or null when it was read from memory by {@link #of}. */
    public Path path() {
        return path;
    }

    /** The name used in messages: the path, or the label given to {@link #of}. */
    public String label() {
        return label;
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
            if (arena != null) {
                arena.close();
            }
        }
    }

    private SafetensorsHeader.Entry entry(String name) {
        SafetensorsHeader.Entry e = header.entry(name);
        if (e == null) {
            throw new IllegalArgumentException(label + ": no tensor " + Json.quote(name));
        }
        return e;
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + label + ", " + names.size() + " tensors]";
    }
}
