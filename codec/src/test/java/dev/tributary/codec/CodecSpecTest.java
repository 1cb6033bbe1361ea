package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.CodecException.Reason;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class CodecSpecTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "f16|f16", "bf16|bf16", "fp8|fp8",
            "int8|int8:group=64", "int4:group=64|int4:group=64", "int4:group=7|int4:group=7",
            "fp4|fp4:group=32", "fp4:group=16|fp4:group=16", "topk+fp4|topk:fraction=0.01+fp4:group=32",
            "topk|topk:fraction=0.01", "topk:fraction=0.01+int8|topk:fraction=0.01+int8:group=64",
            "topk:fraction=1e-4+int4:group=32|topk:fraction=0.0001+int4:group=32",
            "topk:fraction=0.50+bf16|topk:fraction=0.5+bf16", "topk:fraction=1|topk:fraction=1",
            "lossless|lossless:level=3", "lossless:level=19|lossless:level=19",
            "int4+lossless|int4:group=64+lossless:level=3", "fp4 + lossless:level=9|fp4:group=32+lossless:level=9",
            "topk:fraction=0.01+int8+lossless|topk:fraction=0.01+int8:group=64+lossless:level=3",
            "topk+lossless|topk:fraction=0.01+lossless:level=3", "bf16+lossless|bf16+lossless:level=3", " int8 : group = 8 |int8:group=8"})
    void canonicalSpecs(String given, String canonical) {
        assertEquals(canonical, Codec.parse(given).spec());
        assertEquals(canonical, Codec.parse(canonical).spec());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "int3|unknown codec \"int3\" in \"int3\" (valid: f16, bf16, int8, int4, fp4, fp8, topk, lossless)",
            "int8:grp=4|int8: unknown parameter \"grp\" in \"int8:grp=4\" (valid: group)",
            "int8:group=0|int8: group=0 must be an integer in [1, 16777216]",
            "int4:group=x|int4: group=x must be an integer in [1, 16777216]",
            "fp4:group=0|fp4: group=0 must be an integer in [1, 16777216]",
            "fp4:scale=e8m0|fp4: unknown parameter \"scale\" in \"fp4:scale=e8m0\" (valid: group)",
            "int8:group|int8: parameter \"group\" in \"int8:group\" is not key=value (valid: group)",
            "int8:group=4,group=8|int8: parameter group given twice in \"int8:group=4,group=8\"",
            "bf16:group=4|bf16: unknown parameter \"group\" in \"bf16:group=4\" (it takes none)",
            "topk:fraction=0|topk: fraction=0 must be a number in (0, 1]",
            "topk:fraction=1.5|topk: fraction=1.5 must be a number in (0, 1]",
            "topk:fraction=NaN|topk: fraction=NaN must be a number in (0, 1]",
            "lossless:level=20|lossless: level=20 must be an integer in [1, 19]",
            "int8+int4|codec spec \"int8+int4\": only topk may be followed by +CODEC (e.g. topk:fraction=0.01+int8), not \"int8\"",
            "lossless+lossless|codec spec \"lossless+lossless\": +lossless follows a lossy codec (e.g. int4+lossless), not \"lossless\"",
            "+lossless|codec spec \"+lossless\" has an empty codec name (valid: f16, bf16, int8, int4, fp4, fp8, topk, lossless)",
            "int4+lossless:level=0|lossless: level=0 must be an integer in [1, 19]",
            "int4+lossless:group=4|lossless: unknown parameter \"group\" in \"int4+lossless:group=4\" (valid: level)",
            "int4+int8+lossless|codec spec \"int4+int8\": only topk may be followed by +CODEC (e.g. topk:fraction=0.01+int8), not \"int4\"",
            "int4+lossless+lossless|codec spec \"int4+lossless+lossless\": +lossless follows a lossy codec (e.g. int4+lossless), not \"int4+lossless\"",
            "topk+topk|codec spec \"topk+topk\": topk values cannot be coded by \"topk\" (valid: f16, bf16, int8, int4, fp4, fp8)",
            "topk+int8+int4|codec spec \"topk+int8+int4\" chains 3 codecs; at most topk[:fraction=F]+VALUE_CODEC (VALUE_CODEC one of f16, bf16, int8, int4, fp4, fp8), then +lossless",
            "topk+|codec spec \"topk+\" has an empty codec name (valid: f16, bf16, int8, int4, fp4, fp8, topk, lossless)",
            ":group=4|codec spec \":group=4\" has an empty codec name (valid: f16, bf16, int8, int4, fp4, fp8, topk, lossless)"})
    void badSpecsAreRefusedWithTheRule(String spec, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Codec.parse(spec));
        assertEquals(message, e.getMessage());
    }

    @Test
    void emptySpecIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Codec.parse(" "));
        assertTrue(e.getMessage().contains("valid codecs: f16, bf16"), e.getMessage());
    }

    @Test
    void namesListsEveryCodec() {
        assertEquals(List.of("f16", "bf16", "int8", "int4", "fp4", "fp8", "topk", "lossless"), Codec.names());
    }

    @Test
    void specOfRefusesWhatIsNotAMessage() {
        CodecException e = assertThrows(CodecException.class, () -> Codec.specOf(new byte[] {1, 2, 3}));
        assertEquals(Reason.MALFORMED, e.reason());
        byte[] future = Codec.parse("int8").encode(new dev.tributary.tensor.TensorMap());
        future[4] = 2;
        assertEquals(Reason.UNSUPPORTED, assertThrows(CodecException.class, () -> Codec.specOf(future)).reason());
    }

    @Test
    void reasonCodesAreLowerCase() {
        assertEquals("too_large", Reason.TOO_LARGE.code());
        assertEquals("malformed: x", new CodecException(Reason.MALFORMED, "x").getMessage());
    }
}
