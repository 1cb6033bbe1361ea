package dev.tributary.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * f16/bf16 ⇄ f32 over whole segments with integer bit manipulation, matching {@link Conversions}
 * bit for bit, NaN payloads included.
 */
final class VectorConversions {
    private VectorConversions() {}

    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(I.vectorBitSize() / 2));
    private static final VectorSpecies<Float> F =
            VectorSpecies.of(float.class, VectorShape.forBitSize(I.vectorBitSize()));
    private static final int LANES = I.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** 2^112: scales an f16 exponent/mantissa placed in f32 position to its value (normals and subnormals). */
    private static final float F16_SCALE = 0x1p112f;
    /** 65536.0f: from here on f16 overflows to infinity. */
    private static final int F16_OVERFLOW = (127 + 16) << 23;
    /** 2^-14, the smallest normal f16, as f32 bits. */
    private static final int F16_MIN_NORMAL = 113 << 23;
    /** 0.5f: adding it rounds a tiny f32 to the f16 subnormal grid (ulp 2^-24). */
    private static final int F16_DENORM_MAGIC = 126 << 23;

    static void f16ToF32(MemorySegment src, MemorySegment dst, long n) {
        long bound = n - Math.floorMod(n, LANES);
        long i = 0;
        for (; i < bound; i += LANES) {
            ShortVector h = ShortVector.fromMemorySegment(S, src, i * 2, LE);
            IntVector bits = ((IntVector) h.convertShape(VectorOperators.S2I, I, 0)).and(0xFFFF);
            IntVector sign = bits.and(0x8000).lanewise(VectorOperators.LSHL, 16);
            IntVector em = bits.and(0x7FFF);
            IntVector finite = em.lanewise(VectorOperators.LSHL, 13)
                    .reinterpretAsFloats().mul(F16_SCALE).reinterpretAsInts();
            IntVector special = em.and(0x3FF).lanewise(VectorOperators.LSHL, 13).or(0x7F80_0000);
            VectorMask<Integer> isSpecial = em.compare(VectorOperators.GE, 0x7C00);
            finite.blend(special, isSpecial).or(sign)
                    .reinterpretAsFloats().intoMemorySegment(dst, i * 4, LE);
        }
        for (; i < n; i++) {
            dst.set(Tensor.F32_LE, i * 4, Conversions.f16ToF32(src.get(Tensor.I16_LE, i * 2)));
        }
    }

    static void f32ToF16(MemorySegment src, MemorySegment dst, long n) {
        long bound = n - Math.floorMod(n, LANES);
        FloatVector denormMagic = FloatVector.broadcast(F, Float.intBitsToFloat(F16_DENORM_MAGIC));
        long i = 0;
        for (; i < bound; i += LANES) {
            IntVector bits = FloatVector.fromMemorySegment(F, src, i * 4, LE).reinterpretAsInts();
            IntVector sign = bits.and(0x8000_0000).lanewise(VectorOperators.LSHR, 16);
            IntVector abs = bits.and(0x7FFF_FFFF);
            // Normal results: rebias the exponent and round to nearest even at bit 13.
            IntVector mantOdd = abs.lanewise(VectorOperators.LSHR, 13).and(1);
            IntVector normal = abs.add(((15 - 127) << 23) + 0xFFF).add(mantOdd)
                    .lanewise(VectorOperators.LSHR, 13);
            // Subnormal results: let the FPU round on the 2^-24 grid.
            IntVector sub = abs.reinterpretAsFloats().add(denormMagic).reinterpretAsInts().sub(F16_DENORM_MAGIC);
            // Overflow and infinity to 0x7C00; NaN keeps its top payload bits, or gets the quiet bit.
            IntVector payload = abs.lanewise(VectorOperators.LSHR, 13).and(0x3FF);
            IntVector nan = payload.blend(0x200, payload.compare(VectorOperators.EQ, 0)).or(0x7C00);
            IntVector big = IntVector.broadcast(I, 0x7C00).blend(nan, abs.compare(VectorOperators.GT, 0x7F80_0000));
            IntVector r = normal.blend(sub, abs.compare(VectorOperators.LT, F16_MIN_NORMAL))
                    .blend(big, abs.compare(VectorOperators.GE, F16_OVERFLOW))
                    .or(sign);
            r.convertShape(VectorOperators.I2S, S, 0).reinterpretAsShorts().intoMemorySegment(dst, i * 2, LE);
        }
        for (; i < n; i++) {
            dst.set(Tensor.I16_LE, i * 2, Conversions.f32ToF16(src.get(Tensor.F32_LE, i * 4)));
        }
    }

    static void bf16ToF32(MemorySegment src, MemorySegment dst, long n) {
        long bound = n - Math.floorMod(n, LANES);
        long i = 0;
        for (; i < bound; i += LANES) {
            ShortVector h = ShortVector.fromMemorySegment(S, src, i * 2, LE);
            IntVector bits = (IntVector) h.convertShape(VectorOperators.S2I, I, 0);
            bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoMemorySegment(dst, i * 4, LE);
        }
        for (; i < n; i++) {
            dst.set(Tensor.F32_LE, i * 4, Conversions.bf16ToF32(src.get(Tensor.I16_LE, i * 2)));
        }
    }

    static void f32ToBf16(MemorySegment src, MemorySegment dst, long n) {
        long bound = n - Math.floorMod(n, LANES);
        long i = 0;
        for (; i < bound; i += LANES) {
            IntVector bits = FloatVector.fromMemorySegment(F, src, i * 4, LE).reinterpretAsInts();
            IntVector high = bits.lanewise(VectorOperators.LSHR, 16);
            IntVector rounded = bits.add(high.and(1).add(0x7FFF)).lanewise(VectorOperators.LSHR, 16);
            IntVector nan = high.blend(high.or(0x0040), high.and(0x7F).compare(VectorOperators.EQ, 0));
            IntVector r = rounded.blend(nan, bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000));
            r.convertShape(VectorOperators.I2S, S, 0).reinterpretAsShorts().intoMemorySegment(dst, i * 2, LE);
        }
        for (; i < n; i++) {
            dst.set(Tensor.I16_LE, i * 2, Conversions.f32ToBf16(src.get(Tensor.F32_LE, i * 4)));
        }
    }
}
