package dev.tributary.coordinator.model;

import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * One published model version as it is served: its safetensors bytes, the SHA-256 that identifies it,
 * and the CRC32C of every chunk, computed once so that each pull only streams.
 */
public final class ModelImage {
    /** Chunk size on the wire: a few MiB, under the 8 MiB message limit both ends set. */
    public static final int CHUNK_BYTES = 4 << 20;

    private final long version;
    private final MemorySegment bytes;
    private final byte[] sha256;
    private final int[] chunkCrcs;

    private ModelImage(long version, MemorySegment bytes) {
        this.version = version;
        this.bytes = bytes;
        this.sha256 = sha256(bytes);
        int chunks = (int) ((bytes.byteSize() + CHUNK_BYTES - 1) / CHUNK_BYTES);
        this.chunkCrcs = new int[chunks];
        for (int k = 0; k < chunks; k++) {
            chunkCrcs[k] = crc32c(chunk(k));
        }
    }

    /** Serializes {@code model} (copied, so later changes to it do not show) as version {@code version}. */
    public static ModelImage of(long version, TensorSource model) {
        return new ModelImage(version, SafetensorsBytes.encode(model, Map.of(), Arena.ofAuto()));
    }

    /** Version {@code version} made of safetensors bytes already encoded (not copied; must not change). */
    public static ModelImage of(long version, MemorySegment safetensors) {
        return new ModelImage(version, safetensors);
    }

    public long version() {
        return version;
    }

    /** The safetensors bytes; read-only by convention. */
    public MemorySegment bytes() {
        return bytes;
    }

    public long size() {
        return bytes.byteSize();
    }

    public byte[] sha256() {
        return sha256.clone();
    }

    public String sha256Hex() {
        return HexFormat.of().formatHex(sha256);
    }

    public int chunkCount() {
        return chunkCrcs.length;
    }

    /** Bytes of chunk {@code k}: {@link #CHUNK_BYTES} from {@code k × CHUNK_BYTES}, the last one shorter. */
    public MemorySegment chunk(int k) {
        long from = (long) k * CHUNK_BYTES;
        return bytes.asSlice(from, Math.min(CHUNK_BYTES, bytes.byteSize() - from));
    }

    public int chunkCrc(int k) {
        return chunkCrcs[k];
    }

    /** SHA-256 of a segment of any size. */
    public static byte[] sha256(MemorySegment s) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            forEachBuffer(s, md::update);
            return md.digest();
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
