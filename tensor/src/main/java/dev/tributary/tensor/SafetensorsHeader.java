package dev.tributary.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The header of a safetensors file, parsed and checked against every rule of the reference
 * implementation (huggingface/safetensors): an 8-byte little-endian length N ≤ 100,000,000 with
 * 8 + N ≤ file size; N bytes of UTF-8 JSON starting with '{'; an object whose entries are tensors
 * ({@code dtype}, {@code shape}, {@code data_offsets}) plus an optional {@code __metadata__} object of
 * strings; tensors that, sorted by offset, cover the data section contiguously from 0 with sizes
 * matching dtype × shape, and a data section that ends exactly where the last tensor ends.
 */
final class SafetensorsHeader {
    /** Largest header the reference implementation accepts. */
    static final long MAX_HEADER_LENGTH = 100_000_000L;
    static final String METADATA_KEY = "__metadata__";

    /** One tensor: its description and its byte range within the data section. */
    record Entry(TensorInfo info, long begin, long end) {
        long byteSize() {
            return end - begin;
        }
    }

    private final long headerLength;
    private final List<Entry> entries;
    private final Map<String, Entry> byName;
    private final Map<String, String> metadata;

    private SafetensorsHeader(long headerLength, List<Entry> entries, Map<String, String> metadata) {
        this.headerLength = headerLength;
        this.entries = List.copyOf(entries);
        Map<String, Entry> m = new HashMap<>();
        for (Entry e : entries) {
            m.put(e.info().name(), e);
        }
        this.byName = m;
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** N, the length of the JSON header in bytes (without the 8-byte length prefix). */
    long headerLength() {
        return headerLength;
    }

    /** Offset of the data section in the file: 8 + N. */
    long dataOffset() {
        return 8 + headerLength;
    }

    /** Tensors in header order. */
    List<Entry> entries() {
        return entries;
    }

    Entry entry(String name) {
        return byName.get(name);
    }

    Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Parses and validates the header of the safetensors file whose bytes are {@code file}.
     *
     * @param source the file's name for messages
     * @throws InvalidCheckpointException naming the first broken rule
     */
    static SafetensorsHeader parse(String source, MemorySegment file) {
        long size = file.byteSize();
        if (size < 8) {
            throw invalid(source, "header too small: the file has " + size
                    + " bytes, fewer than the 8 of the header length");
        }
        long n = file.get(Tensor.I64_LE, 0);
        if (Long.compareUnsigned(n, MAX_HEADER_LENGTH) > 0) {
            throw invalid(source, "header too large: length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_LENGTH + " bytes");
        }
        if (8 + n > size) {
            throw invalid(source, "header length " + n + " runs past the end of the file ("
                    + size + " bytes, so at most " + (size - 8) + ")");
        }
        // Only now, with n checked against the real file size, is it safe to allocate n bytes.
        byte[] bytes = file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
        String text = decodeUtf8(source, bytes);
        if (text.isEmpty() || text.charAt(0) != '{') {
            throw invalid(source, "header does not start with '{'");
        }
        Json.Value root;
        try {
            root = Json.parse(text);
        } catch (Json.ParseException e) {
            throw invalid(source, "header is not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof Json.Obj obj)) {
            throw invalid(source, "header is not a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Json.Value> m : obj.members().entrySet()) {
            if (m.getKey().equals(METADATA_KEY)) {
                readMetadata(source, m.getValue(), metadata);
            } else {
                entries.add(readEntry(source, m.getKey(), m.getValue()));
            }
        }
        checkCoverage(source, entries, size - 8 - n);
        return new SafetensorsHeader(n, entries, metadata);
    }

    private static String decodeUtf8(String source, byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = decoder.decode(in, out, true);
        if (r.isError()) {
            throw invalid(source, "header is not valid UTF-8 (bad byte at offset " + in.position()
                    + " of the header)");
        }
        r = decoder.flush(out);
        if (r.isError()) {
            throw invalid(source, "header is not valid UTF-8 (truncated sequence at the end of the header)");
        }
        return out.flip().toString();
    }

    private static void readMetadata(String source, Json.Value v, Map<String, String> into) {
        if (v == Json.Null.INSTANCE) {
            return;
        }
        if (!(v instanceof Json.Obj obj)) {
            throw invalid(source, "\"__metadata__\" must be an object of strings, got " + typeName(v));
        }
        for (Map.Entry<String, Json.Value> m : obj.members().entrySet()) {
            if (!(m.getValue() instanceof Json.Str s)) {
                throw invalid(source, "__metadata__ " + Json.quote(m.getKey())
                        + ": value must be a string, got " + typeName(m.getValue()));
            }
            into.put(m.getKey(), s.value());
        }
    }

    private static Entry readEntry(String source, String name, Json.Value v) {
        String where = "tensor " + Json.quote(name) + ": ";
        if (!(v instanceof Json.Obj obj)) {
            throw invalid(source, where + "expected an object with dtype, shape and data_offsets, got " + typeName(v));
        }
        Json.Value dtypeValue = field(source, where, obj, "dtype");
        Json.Value shapeValue = field(source, where, obj, "shape");
        Json.Value offsetsValue = field(source, where, obj, "data_offsets");

        if (!(dtypeValue instanceof Json.Str dtypeName)) {
            throw invalid(source, where + "\"dtype\" must be a string, got " + typeName(dtypeValue));
        }
        DType dtype;
        try {
            dtype = DType.fromSafetensors(dtypeName.value());
        } catch (IllegalArgumentException e) {
            throw invalid(source, where + "unknown dtype " + Json.quote(dtypeName.value()));
        }

        if (!(shapeValue instanceof Json.Arr shapeArr)) {
            throw invalid(source, where + "\"shape\" must be an array of non-negative integers, got " + typeName(shapeValue));
        }
        long[] shape = new long[shapeArr.items().size()];
        for (int i = 0; i < shape.length; i++) {
            Json.Value d = shapeArr.items().get(i);
            if (!(d instanceof Json.Num num) || !num.isIntegerLiteral()) {
                throw invalid(source, where + "\"shape\" must be an array of non-negative integers, found "
                        + literal(d));
            }
            if (num.text().startsWith("-")) {
                throw invalid(source, where + "negative dimension " + num.text() + " in shape");
            }
            shape[i] = num.nonNegativeLong();
            if (shape[i] < 0) {
                throw invalid(source, where + "shape overflow: dimension " + num.text() + " exceeds 2^63-1");
            }
        }

        if (!(offsetsValue instanceof Json.Arr offArr) || offArr.items().size() != 2
                || !(offArr.items().get(0) instanceof Json.Num b) || !b.isIntegerLiteral()
                || !(offArr.items().get(1) instanceof Json.Num e) || !e.isIntegerLiteral()
                || b.text().startsWith("-") || e.text().startsWith("-")) {
            throw invalid(source, where + "\"data_offsets\" must be [begin, end] with non-negative integers, got "
                    + literal(offsetsValue));
        }
        long begin = b.nonNegativeLong();
        long end = e.nonNegativeLong();
        String offsets = "data_offsets [" + b.text() + "," + e.text() + "]";
        if (begin < 0 || end < 0) {
            throw invalid(source, where + offsets + " lie past the end of any file (limit 2^63-1)");
        }
        if (end < begin) {
            throw invalid(source, where + offsets + ": end before begin");
        }

        String described = dtype + " " + Shapes.toString(shape);
        long numel = 1;
        for (long d : shape) {
            numel = multiplyOrMinusOne(numel, d);
            if (numel < 0) {
                throw invalid(source, where + "shape overflow: " + Shapes.toString(shape)
                        + " has more than 2^63-1 elements");
            }
        }
        long bits = multiplyOrMinusOne(numel, dtype.bits());
        if (bits < 0) {
            throw invalid(source, where + "shape overflow: " + described + " needs more than 2^63-1 bits");
        }
        if (bits % 8 != 0) {
            throw invalid(source, where + described + " is " + bits + " bits, not a whole number of bytes");
        }
        long needed = bits / 8;
        if (end - begin != needed) {
            throw invalid(source, where + offsets + " hold " + (end - begin) + " bytes but " + described
                    + " needs " + needed);
        }
        return new Entry(new TensorInfo(name, dtype, shape), begin, end);
    }

    /** Sorted by offset, tensors must tile [0, dataLength) exactly. */
    private static void checkCoverage(String source, List<Entry> entries, long dataLength) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long covered = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            String where = "tensor " + Json.quote(e.info().name()) + ": data_offsets [" + e.begin() + "," + e.end() + "]";
            if (e.begin() > covered) {
                throw invalid(source, where + " leave a gap: bytes [" + covered + "," + e.begin()
                        + ") of the data belong to no tensor");
            }
            if (e.begin() < covered) {
                throw invalid(source, where + " overlap tensor " + Json.quote(previous.info().name())
                        + " [" + previous.begin() + "," + previous.end() + "]");
            }
            covered = e.end();
            previous = e;
        }
        if (covered > dataLength) {
            throw invalid(source, "truncated data: tensor " + Json.quote(previous.info().name()) + " ends at byte "
                    + covered + " of the data but the file holds only " + dataLength + " data bytes");
        }
        if (covered < dataLength) {
            throw invalid(source, (dataLength - covered) + " trailing bytes after the last tensor (the data holds "
                    + dataLength + " bytes, the tensors cover " + covered + ")");
        }
    }

    private static Json.Value field(String source, String where, Json.Obj obj, String key) {
        Json.Value v = obj.members().get(key);
        if (v == null) {
            throw invalid(source, where + "missing field \"" + key + "\"");
        }
        return v;
    }

    private static long multiplyOrMinusOne(long a, long b) {
        long hi = Math.multiplyHigh(a, b);
        long lo = a * b;
        return hi != 0 || lo < 0 ? -1 : lo;
    }

    private static String typeName(Json.Value v) {
        return switch (v) {
            case Json.Obj o -> "an object";
            case Json.Arr a -> "an array";
            case Json.Str s -> "a string";
            case Json.Num n -> "a number";
            case Json.Bool b -> "a boolean";
            case Json.Null n -> "null";
        };
    }

    private static String literal(Json.Value v) {
        return switch (v) {
            case Json.Num n -> n.text();
            case Json.Str s -> Json.quote(s.value().length() > 40 ? s.value().substring(0, 40) + "…" : s.value());
            case Json.Arr a -> a.items().size() <= 4 ? "[" + String.join(",", a.items().stream().map(SafetensorsHeader::literal).toList()) + "]" : "an array of " + a.items().size();
            default -> typeName(v);
        };
    }

    private static InvalidCheckpointException invalid(String source, String problem) {
        return new InvalidCheckpointException(source, problem);
    }

    /**
     * The first 8 + N bytes of a safetensors file for tensors laid out back to back in the given order:
     * the length, then the JSON header (tensors in order, then {@code __metadata__} when not empty) padded
     * with spaces to a multiple of 8 bytes so that the data section starts aligned.
     */
    static byte[] encode(List<TensorInfo> infos, Map<String, String> metadata) {
        StringBuilder json = new StringBuilder("{");
        long offset = 0;
        for (TensorInfo info : infos) {
            long size = info.byteSize();
            if (json.length() > 1) {
                json.append(',');
            }
            json.append(Json.quote(info.name())).append(":{\"dtype\":\"").append(info.dtype().safetensorsName())
                    .append("\",\"shape\":").append(Shapes.toString(info.shape()))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(offset + size).append("]}");
            offset += size;
        }
        if (!metadata.isEmpty()) {
            if (json.length() > 1) {
                json.append(',');
            }
            json.append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> m : metadata.entrySet()) {
                if (!first) {
                    json.append(',');
                }
                first = false;
                json.append(Json.quote(m.getKey())).append(':').append(Json.quote(m.getValue()));
            }
            json.append('}');
        }
        json.append('}');
        byte[] body = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (body.length + 7) / 8 * 8;
        if (padded > MAX_HEADER_LENGTH) {
            throw new IllegalArgumentException("safetensors header of " + padded + " bytes exceeds the limit of "
                    + MAX_HEADER_LENGTH);
        }
        byte[] out = new byte[8 + padded];
        MemorySegment.ofArray(out).set(Tensor.I64_LE, 0, padded);
        System.arraycopy(body, 0, out, 8, body.length);
        java.util.Arrays.fill(out, 8 + body.length, out.length, (byte) ' ');
        return out;
    }
}
