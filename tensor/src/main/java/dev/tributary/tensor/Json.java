package dev.tributary.tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON (RFC 8259) parser and string quoting, enough for safetensors headers and
 * checkpoint index files. Objects keep their key order and reject duplicate keys; strings must be
 * valid Unicode (no lone surrogates); nesting is limited so that hostile input cannot exhaust the stack.
 */
final class Json {
    private Json() {}

    /** Deepest nesting of arrays and objects accepted (serde_json's default limit). */
    static final int MAX_DEPTH = 128;

    /** A parsed JSON value. */
    sealed interface Value permits Obj, Arr, Str, Num, Bool, Null {}

    /** An object; keys in document order, no duplicates. */
    record Obj(Map<String, Value> members) implements Value {}

    record Arr(List<Value> items) implements Value {}

    record Str(String value) implements Value {}

    /** A number kept as its literal text, so that no precision is lost before it is checked. */
    record Num(String text) implements Value {
        /** The value when it is a plain non-negative integer literal up to 2^63 - 1, else -1. */
        long nonNegativeLong() {
            if (text.isEmpty() || text.length() > 19) {
                return -1;
            }
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c < '0' || c > '9') {
                    return -1;
                }
            }
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                return -1;
            }
        }

        /** True for an integer literal (no fraction, no exponent) of any size and sign. */
        boolean isIntegerLiteral() {
            return !text.isEmpty() && text.chars().skip(text.charAt(0) == '-' ? 1 : 0).allMatch(Character::isDigit);
        }
    }

    record Bool(boolean value) implements Value {}

    enum Null implements Value { INSTANCE }

    /** Malformed JSON: what was expected and the character offset where it went wrong. */
    static final class ParseException extends Exception {
        private static final long serialVersionUID = 1L;

        ParseException(String message, int position) {
            super(message + " at character " + position);
        }
    }

    /** Parses one complete JSON document (surrounding whitespace allowed). */
    static Value parse(String text) throws ParseException {
        Parser p = new Parser(text);
        p.skipWhitespace();
        Value v = p.value(0);
        p.skipWhitespace();
        if (p.pos < text.length()) {
            throw new ParseException("unexpected " + describe(text.charAt(p.pos)) + " after the document", p.pos);
        }
        return v;
    }

    /** A JSON string literal for {@code s}, escaped as serde_json escapes (quotes, backslash, controls). */
    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    private static String describe(char c) {
        return c < 0x20 || c > 0x7E ? String.format("character U+%04X", (int) c) : "'" + c + "'";
    }

    private static final class Parser {
        private final String s;
        private int pos;

        Parser(String s) {
            this.s = s;
        }

        Value value(int depth) throws ParseException {
            if (pos >= s.length()) {
                throw new ParseException("unexpected end of input, expected a value", pos);
            }
            char c = s.charAt(pos);
            return switch (c) {
                case '{' -> object(depth + 1);
                case '[' -> array(depth + 1);
                case '"' -> new Str(string());
                case 't' -> literal("true", new Bool(true));
                case 'f' -> literal("false", new Bool(false));
                case 'n' -> literal("null", Null.INSTANCE);
                default -> {
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        yield number();
                    }
                    throw new ParseException("unexpected " + describe(c) + ", expected a value", pos);
                }
            };
        }

        private Value object(int depth) throws ParseException {
            checkDepth(depth);
            pos++;
            Map<String, Value> members = new LinkedHashMap<>();
            skipWhitespace();
            if (peek() == '}') {
                pos++;
                return new Obj(Collections.unmodifiableMap(members));
            }
            while (true) {
                skipWhitespace();
                if (peek() != '"') {
                    throw new ParseException("expected a string key", pos);
                }
                int keyPos = pos;
                String key = string();
                skipWhitespace();
                expect(':');
                skipWhitespace();
                Value v = value(depth);
                if (members.putIfAbsent(key, v) != null) {
                    throw new ParseException("duplicate key " + quote(key), keyPos);
                }
                skipWhitespace();
                char c = peek();
                if (c == ',') {
                    pos++;
                } else if (c == '}') {
                    pos++;
                    return new Obj(Collections.unmodifiableMap(members));
                } else {
                    throw new ParseException("expected ',' or '}'", pos);
                }
            }
        }

        private Value array(int depth) throws ParseException {
            checkDepth(depth);
            pos++;
            List<Value> items = new ArrayList<>();
            skipWhitespace();
            if (peek() == ']') {
                pos++;
                return new Arr(Collections.unmodifiableList(items));
            }
            while (true) {
                skipWhitespace();
                items.add(value(depth));
                skipWhitespace();
                char c = peek();
                if (c == ',') {
                    pos++;
                } else if (c == ']') {
                    pos++;
                    return new Arr(Collections.unmodifiableList(items));
                } else {
                    throw new ParseException("expected ',' or ']'", pos);
                }
            }
        }

        private String string() throws ParseException {
            pos++;
            StringBuilder b = new StringBuilder();
            while (true) {
                if (pos >= s.length()) {
                    throw new ParseException("unterminated string", pos);
                }
                char c = s.charAt(pos++);
                if (c == '"') {
                    return b.toString();
                } else if (c == '\\') {
                    escape(b);
                } else if (c < 0x20) {
                    throw new ParseException("control character U+" + String.format("%04X", (int) c)
                            + " inside a string", pos - 1);
                } else {
                    b.append(c);
                }
            }
        }

        private void escape(StringBuilder b) throws ParseException {
            if (pos >= s.length()) {
                throw new ParseException("unterminated string", pos);
            }
            char e = s.charAt(pos++);
            switch (e) {
                case '"', '\\', '/' -> b.append(e);
                case 'b' -> b.append('\b');
                case 'f' -> b.append('\f');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                case 't' -> b.append('\t');
                case 'u' -> {
                    int start = pos - 2;
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        if (!s.startsWith("\\u", pos)) {
                            throw new ParseException("lone surrogate \\u" + hexOf(u), start);
                        }
                        pos += 2;
                        char low = hex4();
                        if (!Character.isLowSurrogate(low)) {
                            throw new ParseException("lone surrogate \\u" + hexOf(u), start);
                        }
                        b.append(u).append(low);
                    } else if (Character.isLowSurrogate(u)) {
                        throw new ParseException("lone surrogate \\u" + hexOf(u), start);
                    } else {
                        b.append(u);
                    }
                }
                default -> throw new ParseException("invalid escape "
                        + (e > 0x20 && e < 0x7F ? "\\" + e : "'\\' before " + describe(e)), pos - 2);
            }
        }

        private char hex4() throws ParseException {
            if (pos + 4 > s.length()) {
                throw new ParseException("truncated \\u escape", pos);
            }
            int v = 0;
            for (int i = 0; i < 4; i++) {
                int d = Character.digit(s.charAt(pos + i), 16);
                if (d < 0 || s.charAt(pos + i) > 'f') {
                    throw new ParseException("invalid \\u escape", pos);
                }
                v = v * 16 + d;
            }
            pos += 4;
            return (char) v;
        }

        private static String hexOf(char c) {
            return String.format("%04X", (int) c);
        }

        private Value number() throws ParseException {
            int start = pos;
            if (peek() == '-') {
                pos++;
            }
            if (peek() == '0') {
                pos++;
            } else if (isDigit(peek())) {
                digits();
            } else {
                throw new ParseException("invalid number", start);
            }
            if (peek() == '.') {
                pos++;
                if (!isDigit(peek())) {
                    throw new ParseException("invalid number: no digit after '.'", start);
                }
                digits();
            }
            if (peek() == 'e' || peek() == 'E') {
                pos++;
                if (peek() == '+' || peek() == '-') {
                    pos++;
                }
                if (!isDigit(peek())) {
                    throw new ParseException("invalid number: no digit in exponent", start);
                }
                digits();
            }
            return new Num(s.substring(start, pos));
        }

        private void digits() {
            while (isDigit(peek())) {
                pos++;
            }
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        private Value literal(String word, Value v) throws ParseException {
            if (!s.startsWith(word, pos)) {
                throw new ParseException("unexpected " + describe(s.charAt(pos)) + ", expected a value", pos);
            }
            pos += word.length();
            return v;
        }

        private void expect(char c) throws ParseException {
            if (peek() != c) {
                throw new ParseException("expected '" + c + "'", pos);
            }
            pos++;
        }

        /** The current character, or U+0000 at the end (never valid where it is tested). */
        private char peek() {
            return pos < s.length() ? s.charAt(pos) : '\0';
        }

        void skipWhitespace() {
            while (pos < s.length()) {
                char c = s.charAt(pos);
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                    return;
                }
                pos++;
            }
        }

        private void checkDepth(int depth) throws ParseException {
            if (depth > MAX_DEPTH) {
                throw new ParseException("nesting deeper than " + MAX_DEPTH, pos);
            }
        }
    }
}
