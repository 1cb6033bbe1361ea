package dev.tributary.codec;

import java.util.List;

/**
 * What the group-wise codecs share (int8, int4, fp4): one f32 scale per group of {@code group} consecutive
 * values (row-major, the last group shorter) stored before the codes, lossy, and finiteness checked while
 * the scales are computed.
 */
abstract sealed class GroupScaledCodec extends TensorCodec permits Int8Codec, Int4Codec, Fp4Codec {
    private final String name;
    protected final int group;

    GroupScaledCodec(String name, int group) {
        this.name = name;
        this.group = group;
    }

    @Override
    public final String spec() {
        return name + ":group=" + group;
    }

    @Override
    public final boolean isLossless() {
        return false;
    }

    @Override
    final boolean checksFinitenessItself() {
        return true;
    }

    static long groups(long numel, int group) {
        return (numel + group - 1) / group;
    }

    /** Bytes of the scales of {@code numel} values. */
    final long scaleBytes(long numel) {
        return 4 * groups(numel, group);
    }

    /** Scales (f32) apart from codes (bytes). */
    @Override
    final List<Section> sections(long numel, long[] shape) {
        long scales = scaleBytes(numel);
        return List.of(new Section(scales, 4, false), new Section(payloadSize(numel, shape) - scales, 1, false));
    }

    /** Payload of {@code numel} 4-bit codes after their scales: two codes a byte. */
    final long nibblePayload(long numel) {
        return scaleBytes(numel) + (numel + 1) / 2;
    }
}
