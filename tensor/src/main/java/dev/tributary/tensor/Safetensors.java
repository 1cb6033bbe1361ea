package dev.tributary.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Whole-checkpoint conveniences over {@link SafetensorsWriter} and {@link Checkpoint}, and safetensors
 * images in memory ({@link #encode}; read them back with {@link SafetensorsFile#of}).
 */
public final class Safetensors {
    private Safetensors() {}

    /**
     * Writes every tensor of {@code src}, in its order, with its metadata, to the safetensors file
     * {@code target} (atomically: a temporary file, then a rename). Streams one tensor at a time, so a
     * memory-mapped source is never resident as a whole. {@code target} may be the file {@code src} reads.
     */
    public static void write(Path target, TensorSource src) {
        try (SafetensorsWriter w = SafetensorsWriter.create(target, src.infos(), src.metadata())) {
            for (String name : src.names()) {
                w.write(name, src.tensor(name));
            }
        }
    }

    /**
     * Reads a whole checkpoint (a file or a folder, see {@link Checkpoint#open}) into memory: every
     * tensor copied into automatically managed off-heap memory, metadata included. For tests and small
     * models; large ones are better streamed from {@link Checkpoint#open}.
     */
    public static TensorMap readAll(Path path) {
        TensorMap out = new TensorMap();
        try (TensorSource src = Checkpoint.open(path)) {
            Arena arena = Arena.ofAuto();
            for (String name : src.names()) {
                out.put(name, src.tensor(name).copy(arena));
            }
            src.metadata().forEach(out::putMetadata);
        }
        return out;
    }

    /**
     * The bytes before the data of the image {@link #encode} makes of tensors with these {@code infos}, in
     * their order: for filling an image in place (the data follows back to back, in the same order).
     */
    public static byte[] header(List<TensorInfo> infos, Map<String, String> metadata) {
        return SafetensorsHeader.encode(infos, metadata);
    }

    /** The size in bytes of the image {@link #encode} makes of {@code src} with {@code metadata}. */
    public static long encodedSize(TensorSource src, Map<String, String> metadata) {
        long size = SafetensorsHeader.encode(src.infos(), metadata).length;
        for (TensorInfo t : src.infos()) {
            size = Math.addExact(size, t.byteSize());
        }
        return size;
    }

    /**
     * Copies every tensor of {@code src}, in its order, into one safetensors image allocated in
     * {@code arena} (64-byte aligned), with {@code metadata} as its {@code __metadata__}: the same bytes
     * {@link #write} puts in a file.
     */
    public static MemorySegment encode(TensorSource src, Map<String, String> metadata, Arena arena) {
        List<TensorInfo> infos = src.infos();
        byte[] prefix = SafetensorsHeader.encode(infos, metadata);
        long size = prefix.length;
        for (TensorInfo t : infos) {
            size = Math.addExact(size, t.byteSize());
        }
        MemorySegment out = arena.allocate(size, 64);
        MemorySegment.copy(prefix, 0, out, ValueLayout.JAVA_BYTE, 0, prefix.length);
        long at = prefix.length;
        for (TensorInfo t : infos) {
            MemorySegment data = src.tensor(t.name()).data();
            MemorySegment.copy(data, 0, out, at, data.byteSize());
            at += data.byteSize();
        }
        return out;
    }

    /**
     * SHA-256 of the image {@link #encode} (and {@link #write}) makes of every tensor of {@code src} with
     * its metadata, computed from the tensors in place: no image and no file.
     */
    public static byte[] sha256(TensorSource src) {
        java.security.MessageDigest md;
        try {
            md = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
        List<TensorInfo> infos = src.infos();
        md.update(SafetensorsHeader.encode(infos, src.metadata()));
        for (TensorInfo t : infos) {
            md.update(src.tensor(t.name()).data().asByteBuffer());
        }
        return md.digest();
    }
}
