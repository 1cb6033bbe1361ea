package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JsonTest {
    private static String error(String text) {
        return assertThrows(Json.ParseException.class, () -> Json.parse(text)).getMessage();
    }

    @Test
    void parsesNestedValuesKeepingKeyOrder() throws Json.ParseException {
        Json.Value v = Json.parse(" {\"z\":[1,-2.5e3,true,null],\"a\":{\"s\":\"x\\u00e9\\ud83d\\ude00\\n\"}} ");
        Json.Obj o = (Json.Obj) v;
        assertEquals(List.of("z", "a"), List.copyOf(o.members().keySet()));
        assertEquals(List.of(new Json.Num("1"), new Json.Num("-2.5e3"), new Json.Bool(true), Json.Null.INSTANCE),
                ((Json.Arr) o.members().get("z")).items());
        assertEquals("xé😀\n", TestFixtures.str(o.members().get("a"), "s"));
    }

    @Test
    void numbersKeepTheirTextAndConvertOnlyWhenExact() throws Json.ParseException {
        assertEquals(9223372036854775807L, ((Json.Num) Json.parse("9223372036854775807")).nonNegativeLong());
        assertEquals(-1, ((Json.Num) Json.parse("9223372036854775808")).nonNegativeLong());
        assertEquals(-1, ((Json.Num) Json.parse("1e3")).nonNegativeLong());
        assertEquals(-1, ((Json.Num) Json.parse("-0")).nonNegativeLong());
    }

    @Test
    void strictAboutWhatJsonForbids() {
        assertEquals("duplicate key \"a\" at character 7", error("{\"a\":1,\"a\":2}"));
        assertEquals("lone surrogate \\uD800 at character 1", error("\"\\ud800\""));
        assertEquals("lone surrogate \\uDC00 at character 1", error("\"\\udc00x\""));
        assertEquals("control character U+000A inside a string at character 2", error("\"a\nb\""));
        assertEquals("invalid escape \\x at character 1", error("\"\\x\""));
        assertEquals("invalid escape '\\' before character U+000A at character 1", error("\"\\\n\""));
        assertEquals("invalid number at character 0", error("-x"));
        assertEquals("unexpected '1' after the document at character 1", error("01"));
        assertEquals("invalid number: no digit after '.' at character 0", error("1."));
        assertEquals("expected ',' or '}' at character 7", error("{\"a\":1 \"b\":2}"));
        assertEquals("expected a string key at character 1", error("{,}"));
        assertEquals("expected a string key at character 8", error("{\"a\":1, }"));
        assertEquals("unterminated string at character 3", error("\"ab"));
        assertEquals("unexpected 'N', expected a value at character 0", error("NaN"));
    }

    @ParameterizedTest
    @ValueSource(ints = {128, 129, 100_000})
    void nestingIsLimited(int depth) {
        String text = "[".repeat(depth) + "]".repeat(depth);
        if (depth <= Json.MAX_DEPTH) {
            assertEquals(Json.Arr.class, assertDoesNotThrow(text).getClass());
        } else {
            assertEquals("nesting deeper than 128 at character 128", error(text));
        }
    }

    private static Json.Value assertDoesNotThrow(String text) {
        try {
            return Json.parse(text);
        } catch (Json.ParseException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void quoteEscapesLikeSerdeJson() {
        assertEquals("\"a\\\"b\\\\c\\n\\u0001/é\"", Json.quote("a\"b\\c\n\u0001/é"));
    }
}
