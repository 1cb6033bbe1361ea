package dev.tributary.codec;

import dev.tributary.tensor.TensorInfo;
import java.util.List;

/**
 * Bounds a decoder holds an encoded message to before it allocates anything large. Every declared size
 * and count is checked against these (and against the expected layout) first.
 *
 * @param maxEncodedBytes largest message accepted, in bytes
 * @param maxDecodedBytes largest total of decoded f32 data, in bytes
 * @param maxTensors      most tensors in one message
 * @param maxNameBytes    longest tensor name, in UTF-8 bytes
 * @param maxRank         most dimensions of one tensor
 */
public record DecodeLimits(long maxEncodedBytes, long maxDecodedBytes, int maxTensors, int maxNameBytes, int maxRank) {
    /** Defaults for counts and names: 100,000 tensors, names up to 1,024 bytes, rank up to 16. */
    public static final int DEFAULT_MAX_TENSORS = 100_000;
    public static final int DEFAULT_MAX_NAME_BYTES = 1024;
    public static final int DEFAULT_MAX_RANK = 16;
    /** Longest name the format can carry (a 16-bit length). */
    static final int FORMAT_MAX_NAME_BYTES = 0xFFFF;
    /** Most dimensions the format can carry (an 8-bit rank). */
    static final int FORMAT_MAX_RANK = 0xFF;

    public DecodeLimits {
        if (maxEncodedBytes < 0) {
            throw new IllegalArgumentException("maxEncodedBytes < 0: " + maxEncodedBytes);
        }
        if (maxDecodedBytes < 0) {
            throw new IllegalArgumentException("maxDecodedBytes < 0: " + maxDecodedBytes);
        }
        if (maxTensors < 0) {
            throw new IllegalArgumentException("maxTensors < 0: " + maxTensors);
        }
        if (maxNameBytes < 0 || maxNameBytes > FORMAT_MAX_NAME_BYTES) {
            throw new IllegalArgumentException("maxNameBytes must be in [0, " + FORMAT_MAX_NAME_BYTES + "]: " + maxNameBytes);
        }
        if (maxRank < 0 || maxRank > FORMAT_MAX_RANK) {
            throw new IllegalArgumentException("maxRank must be in [0, " + FORMAT_MAX_RANK + "]: " + maxRank);
        }
    }

    /**
     * Limits with default counts for up to {@code maxDecodedBytes} of decoded data; messages may be up to
     * twice that plus 1 MiB (top-k at fraction 1 with f32 values is twice the dense size).
     */
    public static DecodeLimits of(long maxDecodedBytes) {
        long encoded = maxDecodedBytes > (Long.MAX_VALUE - (1 << 20)) / 2 ? Long.MAX_VALUE : 2 * maxDecodedBytes + (1 << 20);
        return new DecodeLimits(encoded, maxDecodedBytes, DEFAULT_MAX_TENSORS, DEFAULT_MAX_NAME_BYTES, DEFAULT_MAX_RANK);
    }

    /** The tightest limits that still admit a message for exactly {@code layout}. */
    public static DecodeLimits forLayout(List<TensorInfo> layout) {
        long bytes = 0;
        int name = 0;
        int rank = 0;
        for (TensorInfo t : layout) {
            bytes = Math.addExact(bytes, Math.multiplyExact(t.numel(), 4L));
            name = Math.max(name, Format.utf8Length(t.name()));
            rank = Math.max(rank, t.shape().length);
        }
        DecodeLimits d = of(bytes);
        return new DecodeLimits(d.maxEncodedBytes(), bytes, layout.size(), Math.min(name, FORMAT_MAX_NAME_BYTES),
                Math.min(rank, FORMAT_MAX_RANK));
    }

    public DecodeLimits withMaxEncodedBytes(long n) {
        return new DecodeLimits(n, maxDecodedBytes, maxTensors, maxNameBytes, maxRank);
    }

    public DecodeLimits withMaxDecodedBytes(long n) {
        return new DecodeLimits(maxEncodedBytes, n, maxTensors, maxNameBytes, maxRank);
    }

    public DecodeLimits withMaxTensors(int n) {
        return new DecodeLimits(maxEncodedBytes, maxDecodedBytes, n, maxNameBytes, maxRank);
    }

    public DecodeLimits withMaxNameBytes(int n) {
        return new DecodeLimits(maxEncodedBytes, maxDecodedBytes, maxTensors, n, maxRank);
    }

    public DecodeLimits withMaxRank(int n) {
        return new DecodeLimits(maxEncodedBytes, maxDecodedBytes, maxTensors, maxNameBytes, n);
    }
}
