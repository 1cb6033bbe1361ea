package dev.tributary.store;

import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One published model version as it is served: its safetensors bytes in chunks, the SHA-256 that
 * identifies it, and the CRC32C of every chunk, computed once so that each pull only streams. The chunks
 * are heap arrays: gRPC writes an array-backed message field to the transport with a single copy.
 */
public final class ModelImage {
    /**
     * Chunk size on the wire: a few MiB, and with its framing under the 4 MiB up to which gRPC parses a
     * message from one contiguous buffer.
     */
    public static final int CHUNK_BYTES = 2 << 20;

    private final long version;
    private final long size;
    private final byte[][] chunks;
    private final byte[] sha256;
    private final int[] chunkCrcs;

    private ModelImage(long version, MemorySegment bytes) {
        this.version = version;
        this.size = bytes.byteSize();
        int n = (int) ((size + CHUNK_BYTES - 1) / CHUNK_BYTES);
        this.chunks = new byte[n][];
        this.chunkCrcs = new int[n];
        MessageDigest sha = sha256Digest();
        for (int k = 0; k < n; k++) {
            long from = (long) k * CHUNK_BYTES;
            chunks[k] = bytes.asSlice(from, Math.min(CHUNK_BYTES, size - from)).toArray(ValueLayout.JAVA_BYTE);
            CRC32C crc = new CRC32C();
            crc.update(chunks[k]);
            chunkCrcs[k] = (int) crc.getValue();
            sha.update(chunks[k]);
        }
        this.sha256 = sha.digest();
    }

    /** Serializes {@code model} (copied, so later changes to it do not show) as version {@code version}. */
    public static ModelImage of(long version, TensorSource model) {
        try (Arena scratch = Arena.ofConfined()) {
            return new ModelImage(version, Safetensors.encode(model, Map.of(), scratch));
        }
    }

    /** Version {@code version} made of safetensors bytes already encoded (copied). */
    public static ModelImage of(long version, MemorySegment safetensors) {
        return new ModelImage(version, safetensors);
    }

    public long version() {
        return version;
    }

    public long size() {
        return size;
    }

    public byte[] sha256() {
        return sha256.clone();
    }

    public String sha256Hex() {
        return HexFormat.of().formatHex(sha256);
    }

    public int chunkCount() {
        return chunks.length;
    }

    /**
     * Bytes of chunk {@code k}: {@link #CHUNK_BYTES} from {@code k × CHUNK_BYTES}, the last one shorter.
     * The array itself, not a copy: never modify it.
     */
    public byte[] chunk(int k) {
        return chunks[k];
    }

    public int chunkCrc(int k) {
        return chunkCrcs[k];
    }

    /**
     * The tensors (zero-copy views of {@code image}) and metadata of a safetensors image, validated
     * strictly: the bytes come from the network, the update log or a checkpoint file.
     *
     * @param label names the image in messages
     * @throws InvalidCheckpointException naming {@code label} and the broken rule
     */
    public static TensorMap tensors(MemorySegment image, String label) {
        SafetensorsFile f = SafetensorsFile.of(image, label);
        TensorMap out = new TensorMap();
        for (String name : f.names()) {
            out.put(name, f.tensor(name));
        }
        f.metadata().forEach(out::putMetadata);
        return out;
    }

    /** SHA-256 of a segment of any size. */
    public static byte[] sha256(MemorySegment s) {
        MessageDigest md = sha256Digest();
        forEachBuffer(s, md::update);
        return md.digest();
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    /** CRC32C of a segment of any size. */
    public static int crc32c(MemorySegment s) {
        CRC32C crc = new CRC32C();
        forEachBuffer(s, crc::update);
        return (int) crc.getValue();
    }

    /** Hands {@code s} to {@code sink} as ByteBuffers of at most 1 GiB each (a ByteBuffer is int-indexed). */
    public static void forEachBuffer(MemorySegment s, java.util.function.Consumer<ByteBuffer> sink) {
        long step = 1L << 30;
        for (long at = 0; at < s.byteSize(); at += step) {
            sink.accept(s.asSlice(at, Math.min(step, s.byteSize() - at)).asByteBuffer());
        }
    }
}
