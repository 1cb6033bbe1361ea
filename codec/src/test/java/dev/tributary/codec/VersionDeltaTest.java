package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.CodecException.Reason;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VersionDeltaTest {

    /** A model of several dtypes, NaN payloads included, and a next version with a few changed values. */
    private static TensorMap[] versions() {
        SplittableRandom r = new SplittableRandom(3);
        TensorMap base = new TensorMap();
        base.put("w", Samples.gaussian(r, new long[] {64, 300}, 0.05));
        base.put("half", Samples.gaussian(r, new long[] {1000}, 1).castTo(DType.BF16, Arena.ofAuto()));
        Tensor steps = Tensor.allocate(DType.I64, new long[] {}, Arena.ofAuto());
        steps.setFloat(0, 1234);
        base.put("steps", steps);
        Tensor nan = Tensor.allocate(DType.F32, new long[] {4}, Arena.ofAuto());
        nan.data().set(Tensor.I32_LE, 0, 0x7F80_0001);
        base.put("nan", nan);
        base.put("empty", Tensor.ofFloats(new long[] {0}));
        TensorMap next = new TensorMap();
        for (String n : base.names()) {
            next.put(n, base.tensor(n).copy(Arena.ofAuto()));
        }
        Tensor w = next.tensor("w");
        for (int i = 0; i < 500; i++) {
            long at = r.nextLong(w.numel());
            w.setFloat(at, w.getFloat(at) * 1.001f);
        }
        next.tensor("half").setFloat(7, 3f);
        next.tensor("steps").setFloat(0, 1240);
        next.tensor("nan").data().set(Tensor.I32_LE, 4, 0xFFC0_0123);
        return new TensorMap[] {base, next};
    }

    @Test
    void appliesToTheBaseBitForBit() throws CodecException {
        TensorMap[] v = versions();
        byte[] delta = VersionDelta.encode(v[1], v[0]);
        TensorMap got = VersionDelta.decode(delta, v[0], DecodeLimits.of(1 << 24));
        assertEquals(v[1].names(), got.names());
        for (String n : v[1].names()) {
            assertTrue(v[1].tensor(n).contentEquals(got.tensor(n)), n);
        }
        long full = 0;
        for (String n : v[1].names()) {
            full += v[1].tensor(n).byteSize();
        }
        assertTrue(delta.length < full / 5, "a sparse change is much smaller than the model: " + delta.length + " of " + full);
    }

    @Test
    void nothingChangedIsNearlyOnlyTheHeader() throws CodecException {
        TensorMap[] v = versions();
        byte[] delta = VersionDelta.encode(v[0], v[0]);
        assertTrue(delta.length < 400, "unchanged model: " + delta.length + " bytes");
        TensorMap got = VersionDelta.decode(delta, v[0], DecodeLimits.of(1 << 24));
        assertTrue(v[0].tensor("w").contentEquals(got.tensor("w")));
    }

    @Test
    void differentLayoutsAreRefused() throws CodecException {
        TensorMap[] v = versions();
        TensorMap other = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, 2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> VersionDelta.encode(other, v[0]));
        assertTrue(e.getMessage().contains("tensor #0 is w F32 [2] in the new version, w F32 [64,300] in the base"),
                e.getMessage());
        byte[] delta = VersionDelta.encode(v[1], v[0]);
        TensorMap wrongBase = new TensorMap();
        for (String n : v[0].names()) {
            wrongBase.put(n, n.equals("half") ? Tensor.ofFloats(new long[] {1000}, new float[1000]) : v[0].tensor(n));
        }
        CodecException x = assertThrows(CodecException.class,
                () -> VersionDelta.decode(delta, wrongBase, DecodeLimits.of(1 << 24)));
        assertEquals(Reason.LAYOUT, x.reason());
        assertTrue(x.getMessage().contains("tensor half: dtype BF16, expected F32"), x.getMessage());
    }

    @Test
    void corruptionAndCodecMessagesAreRefused() {
        TensorMap[] v = versions();
        byte[] delta = VersionDelta.encode(v[1], v[0]);
        for (int at : new int[] {0, 7, delta.length / 2, delta.length - 1}) {
            byte[] b = delta.clone();
            b[at] ^= 0x10;
            CodecException e = assertThrows(CodecException.class, () -> VersionDelta.decode(b, v[0], DecodeLimits.of(1 << 24)));
            assertTrue(e.reason() == Reason.CORRUPT || e.reason() == Reason.MALFORMED, e.getMessage());
        }
        TensorMap f32 = new TensorMap().put("w", v[0].tensor("w"));
        byte[] codec = Codec.parse("lossless").encode(f32);
        CodecException e = assertThrows(CodecException.class, () -> VersionDelta.decode(codec, f32, DecodeLimits.of(1 << 24)));
        assertEquals(Reason.MALFORMED, e.reason());
        assertTrue(e.getMessage().contains("not a TRBX message"), e.getMessage());
        assertEquals(Reason.TOO_LARGE, assertThrows(CodecException.class,
                () -> VersionDelta.decode(delta, v[0], DecodeLimits.of(1000))).reason());
    }

    @Test
    void badLevelIsRefused() {
        TensorMap[] v = versions();
        assertThrows(IllegalArgumentException.class, () -> VersionDelta.encode(v[1], v[0], 0));
    }
}
