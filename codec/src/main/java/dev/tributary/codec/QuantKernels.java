package dev.tributary.codec;

import dev.tributary.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The hot loops of the absmax quantizers over f32 in {@link MemorySegment}s: range, quantize, dequantize.
 * Vector results equal the scalar loop's exactly (IEEE division and multiplication, rounding half to even).
 * The vector paths need a byte vector a quarter the width of the preferred float vector, which exists
 * from 256-bit vectors up; narrower machines take the scalar loops.
 */
final class QuantKernels {
    private QuantKernels() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = F.length();
    private static final boolean VECTOR = F.vectorBitSize() >= 256;
    private static final VectorSpecies<Byte> B =
            VECTOR ? VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4)) : null;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** 1.5 · 2^23: adding and subtracting it rounds any |y| < 2^22 to an integer, half to even. */
    private static final float ROUND_MAGIC = 12582912f;

    /**
     * max |x| over {@code count} f32 from element {@code from}; NaN when any is NaN, infinity when any is
     * infinite: so the result is finite exactly when all the values are.
     */
    static float absMax(MemorySegment src, long from, long count) {
        long off = from * 4;
        long i = 0;
        float m = 0f;
        if (count >= LANES) {
            FloatVector acc = FloatVector.zero(F);
            long bound = count - count % LANES;
            for (; i < bound; i += LANES) {
                acc = acc.max(FloatVector.fromMemorySegment(F, src, off + i * 4, LE).abs());
            }
            m = acc.reduceLanes(VectorOperators.MAX);
        }
        for (; i < count; i++) {
            m = Math.max(m, Math.abs(src.get(Tensor.F32_LE, off + i * 4)));
        }
        return m;
    }

    /**
     * The scale of a group whose largest magnitude is {@code absMax} and whose largest code is
     * {@code qmax}; 0 (the group is sent as zeros) when the scale would be below the smallest normal
     * float, where dividing by it would lose the range.
     */
    static float scale(float absMax, float qmax) {
        float s = absMax / qmax;
        return s >= Float.MIN_NORMAL ? s : 0f;
    }

    /**
     * {@code q[i] = clamp(rint(x[i] / scale), -qmax, qmax)} for {@code count} values from element
     * {@code from} of {@code src} into bytes from {@code qOff} of {@code q}; all zeros when scale is 0.
     */
    static void quantize(MemorySegment src, long from, int count, float scale, float qmax, MemorySegment q, long qOff) {
        if (scale == 0f) {
            q.asSlice(qOff, count).fill((byte) 0);
            return;
        }
        long off = from * 4;
        int i = 0;
        if (VECTOR) {
            int bound = count - count % LANES;
            for (; i < bound; i += LANES) {
                FloatVector y = FloatVector.fromMemorySegment(F, src, off + i * 4L, LE).div(scale);
                y = y.add(ROUND_MAGIC).sub(ROUND_MAGIC).max(-qmax).min(qmax);
                ((ByteVector) y.convertShape(VectorOperators.F2B, B, 0)).intoMemorySegment(q, qOff + i, LE);
            }
        }
        for (; i < count; i++) {
            float y = (float) Math.rint(src.get(Tensor.F32_LE, off + i * 4L) / scale);
            q.set(ValueLayout.JAVA_BYTE, qOff + i, (byte) Math.max(-qmax, Math.min(qmax, y)));
        }
    }

    /** {@code x[i] = q[i] · scale} for {@code count} signed bytes from {@code qOff} into f32 from element {@code from}. */
    static void dequantize(MemorySegment q, long qOff, int count, float scale, MemorySegment dst, long from) {
        long off = from * 4;
        int i = 0;
        if (VECTOR) {
            int bound = count - count % LANES;
            for (; i < bound; i += LANES) {
                FloatVector x = (FloatVector) ByteVector.fromMemorySegment(B, q, qOff + i, LE)
                        .convertShape(VectorOperators.B2F, F, 0);
                x.mul(scale).intoMemorySegment(dst, off + i * 4L, LE);
            }
        }
        for (; i < count; i++) {
            dst.set(Tensor.F32_LE, off + i * 4L, q.get(ValueLayout.JAVA_BYTE, qOff + i) * scale);
        }
    }
}
