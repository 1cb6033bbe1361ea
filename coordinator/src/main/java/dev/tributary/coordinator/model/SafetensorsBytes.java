package dev.tributary.coordinator.model;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Safetensors images held in memory: models and deltas as they travel on the wire and sit in the update
 * log. Encoding lays tensors out in the source's order, header padded with spaces to a multiple of 8.
 * Decoding is strict (the bytes come from the network) and zero-copy: the tensors it returns are views
 * of the given segment.
 */
public final class SafetensorsBytes {
    /** The format's bound on the header, as the reference implementation enforces it. */
    public static final long MAX_HEADER = 100_000_000L;

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private SafetensorsBytes() {}

    /** The header bytes (length prefix excluded, padding included) for {@code infos} in that order. */
    static byte[] header(List<TensorInfo> infos, Map<String, String> metadata) {
        StringBuilder b = new StringBuilder("{");
        long offset = 0;
        for (TensorInfo t : infos) {
            if (b.length() > 1) {
                b.append(',');
            }
            HeaderJson.quote(b, t.name());
            b.append(":{\"dtype\":\"").append(t.dtype().safetensorsName()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int k = 0; k < shape.length; k++) {
                b.append(k == 0 ? "" : ",").append(shape[k]);
            }
            long end = offset + t.byteSize();
            b.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        if (!metadata.isEmpty()) {
            b.append(b.length() > 1 ? "," : "").append("\"__metadata__\":{");
            boolean first = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                b.append(first ? "" : ",");
                HeaderJson.quote(b, e.getKey());
                b.append(':');
                HeaderJson.quote(b, e.getValue());
                first = false;
            }
            b.append('}');
        }
        b.append('}');
        byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
        byte[] padded = Arrays.copyOf(bytes, (bytes.length + 7) / 8 * 8);
        Arrays.fill(padded, bytes.length, padded.length, (byte) ' ');
        return padded;
    }

    /** The size of the image {@link #encode} makes. */
    public static long encodedSize(TensorSource src, Map<String, String> metadata) {
        long data = 0;
        for (TensorInfo t : src.infos()) {
            data = Math.addExact(data, t.byteSize());
        }
        return 8 + header(src.infos(), metadata).length + data;
    }

    /** Copies every tensor of {@code src} into one safetensors image allocated in {@code arena}. */
    public static MemorySegment encode(TensorSource src, Map<String, String> metadata, Arena arena) {
        List<TensorInfo> infos = src.infos();
        byte[] header = header(infos, metadata);
        long size = 8;
        size += header.length;
        for (TensorInfo t : infos) {
            size = Math.addExact(size, t.byteSize());
        }
        MemorySegment out = arena.allocate(size, 64);
        out.set(U64_LE, 0, header.length);
        MemorySegment.copy(header, 0, out, ValueLayout.JAVA_BYTE, 8, header.length);
        long at = 8 + header.length;
        for (TensorInfo t : infos) {
            MemorySegment data = src.tensor(t.name()).data();
            MemorySegment.copy(data, 0, out, at, data.byteSize());
            at += data.byteSize();
        }
        return out;
    }

    /** Decoded tensors (views of the image) and its metadata. */
    public record Decoded(TensorMap tensors, Map<String, String> metadata, long dataOffset) {}

    /**
     * Parses {@code image} strictly: header length bounds, UTF-8, JSON, known dtypes, shapes, offsets
     * contiguous from 0 and covering the data exactly.
     *
     * @throws MalformedSafetensorsException naming the broken rule and tensor
     */
    public static Decoded decode(MemorySegment image) {
        long size = image.byteSize();
        if (size < 8) {
            throw new MalformedSafetensorsException("image of " + size + " bytes is shorter than the 8-byte header length");
        }
        long n = image.get(U64_LE, 0);
        if (n < 0 || n > MAX_HEADER) {
            throw new MalformedSafetensorsException("header length " + Long.toUnsignedString(n) + " > " + MAX_HEADER);
        }
        if (8 + n > size) {
            throw new MalformedSafetensorsException("header length " + n + " runs past the end of " + size + " bytes");
        }
        String text;
        try {
            ByteBuffer hb = image.asSlice(8, n).asByteBuffer();
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(hb)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new MalformedSafetensorsException("header is not UTF-8");
        }
        Map<String, Object> json = HeaderJson.parseObject(text);
        long dataOffset = 8 + n;
        long dataLength = size - dataOffset;
        Map<String, String> metadata = new LinkedHashMap<>();
        record Entry(String name, DType dtype, long[] shape, long begin, long end) {}
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, Object> e : json.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) {
                    throw new MalformedSafetensorsException("__metadata__ is not an object");
                }
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String v)) {
                        throw new MalformedSafetensorsException("__metadata__ \"" + me.getKey() + "\": value is not a string");
                    }
                    metadata.put((String) me.getKey(), v);
                }
                continue;
            }
            if (!(e.getValue() instanceof Map<?, ?> t)) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": entry is not an object");
            }
            if (!(t.get("dtype") instanceof String dtypeName)) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": missing string field dtype");
            }
            DType dtype;
            try {
                dtype = DType.fromSafetensors(dtypeName);
            } catch (IllegalArgumentException ex) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": unknown dtype \"" + dtypeName + "\"");
            }
            long[] shape = longs(name, "shape", t.get("shape"));
            long[] offsets = longs(name, "data_offsets", t.get("data_offsets"));
            if (offsets.length != 2) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": data_offsets needs 2 values, got " + offsets.length);
            }
            if (t.size() != 3) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": fields other than dtype, shape, data_offsets");
            }
            if (offsets[1] < offsets[0]) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": data_offsets end " + offsets[1] + " < begin " + offsets[0]);
            }
            long need;
            try {
                need = dtype.byteSize(Shapes.numel(shape));
            } catch (ArithmeticException ex) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": shape " + Shapes.toString(shape) + " overflows");
            }
            if (offsets[1] - offsets[0] != need) {
                throw new MalformedSafetensorsException("tensor \"" + name + "\": data_offsets [" + offsets[0] + "," + offsets[1]
                        + "] hold " + (offsets[1] - offsets[0]) + " bytes but " + dtype + " " + Shapes.toString(shape) + " needs " + need);
            }
            entries.add(new Entry(name, dtype, shape, offsets[0], offsets[1]));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        for (Entry e : byOffset) {
            if (e.begin() != expected) {
                throw new MalformedSafetensorsException("tensor \"" + e.name() + "\": data_offsets begin " + e.begin()
                        + (e.begin() > expected ? " leaves a gap after " : " overlaps data before ") + expected);
            }
            expected = e.end();
        }
        if (expected != dataLength) {
            throw new MalformedSafetensorsException("tensors cover " + expected + " data bytes but the image holds " + dataLength);
        }
        TensorMap out = new TensorMap();
        for (Entry e : entries) {
            out.put(e.name(), Tensor.of(e.dtype(), e.shape(), image.asSlice(dataOffset + e.begin(), e.end() - e.begin())));
        }
        return new Decoded(out, Map.copyOf(metadata), dataOffset);
    }

    private static long[] longs(String tensor, String field, Object v) {
        if (!(v instanceof List<?> list)) {
            throw new MalformedSafetensorsException("tensor \"" + tensor + "\": missing array field " + field);
        }
        long[] out = new long[list.size()];
        for (int k = 0; k < out.length; k++) {
            if (!(list.get(k) instanceof Long x)) {
                throw new MalformedSafetensorsException("tensor \"" + tensor + "\": " + field + " holds a non-integer");
            }
            out[k] = x;
        }
        return out;
    }
}
