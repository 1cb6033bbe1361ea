package dev.tributary.codec;

import java.lang.foreign.MemorySegment;

/**
 * Lossless: byte-grouped f32 through zstd ({@link BytePlanes}); any bit pattern round-trips, NaN
 * payloads, infinities and signed zeros included. The level only affects encoding, so a decoder reads
 * messages of every level.
 */
final class LosslessCodec extends TensorCodec {
    private final int level;

    LosslessCodec(int level) {
        this.level = level;
    }

    @Override
    public String spec() {
        return "lossless:level=" + level;
    }

    @Override
    public boolean isLossless() {
        return true;
    }

    @Override
    boolean reads(TensorCodec other) {
        return other instanceof LosslessCodec;
    }

    @Override
    long payloadSize(long numel, long[] shape) {
        return -1;
    }

    @Override
    long maxPayloadSize(long numel, long[] shape) {
        return BytePlanes.maxSize(numel, 4);
    }

    @Override
    void encodeInto(MemorySegment src, long numel, long[] shape, MemorySegment dst) {
        throw new UnsupportedOperationException("lossless payloads are variable-size");
    }

    @Override
    byte[] encodeVariable(MemorySegment src, long numel, long[] shape) {
        return BytePlanes.encode(src, null, numel, 4, level);
    }

    @Override
    void decodeInto(MemorySegment payload, long numel, long[] shape, MemorySegment dst) throws CodecException {
        BytePlanes.decode(payload, null, numel, 4, dst);
    }
}
