package dev.tributary.replay;

import dev.tributary.store.ModelImage;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A table's state as the tensors and metadata of a checkpoint's {@code state/} part: the live items in slot
 * order as columns ({@code ids} with {@code id_lengths}, {@code sequences}, {@code policy_versions},
 * {@code priorities}, {@code payloads} with {@code payload_lengths}), the counters, the caller's metadata
 * under {@code caller.}, and a SHA-256 over the columns, checked on load (the store checks the caller's
 * tensors, as a model, with their own SHA-256).
 */
final class TableImage {
    static final String FORMAT = "tributary-replay-1";
    private static final List<String> COLUMNS = List.of("ids", "id_lengths", "sequences", "policy_versions", "priorities",
            "payload_lengths", "payloads");

    /** The counters a checkpoint keeps beside the items. */
    record Counters(long inserted, long sampled, long removed, long evicted) {}

    /** What a checkpoint's state part holds. */
    record Restored(List<Entry> inSlotOrder, Counters counters, Map<String, String> callerMetadata) {}

    private TableImage() {}

    /** The state part for {@code items} (in slot order); column memory lives in {@code arena}. */
    static TensorMap encode(List<Entry> items, Counters c, Map<String, String> callerMetadata, Arena arena) {
        int n = items.size();
        List<byte[]> ids = new ArrayList<>(n);
        long idBytes = 0;
        long payloadBytes = 0;
        for (Entry e : items) {
            byte[] id = e.id.getBytes(StandardCharsets.UTF_8);
            ids.add(id);
            idBytes += id.length;
            payloadBytes += e.payload.length;
        }
        MemorySegment idData = arena.allocate(Math.max(1, idBytes)).asSlice(0, idBytes);
        MemorySegment payloads = arena.allocate(Math.max(1, payloadBytes)).asSlice(0, payloadBytes);
        Tensor idLengths = Tensor.allocate(DType.I32, new long[] {n}, arena);
        Tensor sequences = Tensor.allocate(DType.I64, new long[] {n}, arena);
        Tensor versions = Tensor.allocate(DType.I64, new long[] {n}, arena);
        Tensor priorities = Tensor.allocate(DType.F64, new long[] {n}, arena);
        Tensor payloadLengths = Tensor.allocate(DType.I64, new long[] {n}, arena);
        long idAt = 0;
        long payloadAt = 0;
        for (int i = 0; i < n; i++) {
            Entry e = items.get(i);
            byte[] id = ids.get(i);
            MemorySegment.copy(id, 0, idData, ValueLayout.JAVA_BYTE, idAt, id.length);
            idAt += id.length;
            MemorySegment.copy(e.payload, 0, payloads, ValueLayout.JAVA_BYTE, payloadAt, e.payload.length);
            payloadAt += e.payload.length;
            idLengths.data().setAtIndex(Tensor.I32_LE, i, id.length);
            sequences.data().setAtIndex(Tensor.I64_LE, i, e.sequence);
            versions.data().setAtIndex(Tensor.I64_LE, i, e.policyVersion);
            priorities.data().setAtIndex(Tensor.F64_LE, i, e.priority);
            payloadLengths.data().setAtIndex(Tensor.I64_LE, i, e.payload.length);
        }
        TensorMap state = new TensorMap()
                .put("ids", Tensor.of(DType.U8, new long[] {idBytes}, idData))
                .put("id_lengths", idLengths)
                .put("sequences", sequences)
                .put("policy_versions", versions)
                .put("priorities", priorities)
                .put("payload_lengths", payloadLengths)
                .put("payloads", Tensor.of(DType.U8, new long[] {payloadBytes}, payloads));
        state.putMetadata("table.format", FORMAT);
        state.putMetadata("table.inserted", Long.toString(c.inserted()));
        state.putMetadata("table.sampled", Long.toString(c.sampled()));
        state.putMetadata("table.removed", Long.toString(c.removed()));
        state.putMetadata("table.evicted", Long.toString(c.evicted()));
        callerMetadata.forEach((k, v) -> state.putMetadata("caller." + k, v));
        state.putMetadata("table.sha256", digest(state));
        return state;
    }

    /**
     * Reads a checkpoint's state part back.
     *
     * @throws IllegalArgumentException naming what is wrong: another format, a digest that does not match,
     *     columns of different lengths, lengths that do not add up
     */
    static Restored decode(TensorMap state) {
        Map<String, String> meta = state.metadata();
        if (!FORMAT.equals(meta.get("table.format"))) {
            throw new IllegalArgumentException("table format \"" + meta.get("table.format") + "\" != \"" + FORMAT + "\"");
        }
        for (String c : COLUMNS) {
            if (!state.contains(c)) {
                throw new IllegalArgumentException("no column " + c);
            }
        }
        String digest = digest(state);
        if (!digest.equals(meta.get("table.sha256"))) {
            throw new IllegalArgumentException("table SHA-256 " + digest + " != recorded " + meta.get("table.sha256"));
        }
        long n = state.get("sequences").numel();
        for (String c : COLUMNS) {
            if (!c.equals("ids") && !c.equals("payloads") && state.get(c).numel() != n) {
                throw new IllegalArgumentException("column " + c + " has " + state.get(c).numel() + " entries, sequences " + n);
            }
        }
        MemorySegment ids = state.get("ids").data();
        MemorySegment payloads = state.get("payloads").data();
        List<Entry> items = new ArrayList<>((int) n);
        long idAt = 0;
        long payloadAt = 0;
        for (int i = 0; i < n; i++) {
            int idLength = state.get("id_lengths").data().getAtIndex(Tensor.I32_LE, i);
            long payloadLength = state.get("payload_lengths").data().getAtIndex(Tensor.I64_LE, i);
            if (idLength < 1 || idLength > ids.byteSize() - idAt || payloadLength < 0
                    || payloadLength > Math.min(TableConfig.MAX_PAYLOAD_BYTES, payloads.byteSize() - payloadAt)) {
                throw new IllegalArgumentException("item " + i + ": id of " + idLength + " bytes, payload of " + payloadLength
                        + " bytes run past their columns");
            }
            String id = new String(ids.asSlice(idAt, idLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            byte[] payload = payloads.asSlice(payloadAt, payloadLength).toArray(ValueLayout.JAVA_BYTE);
            idAt += idLength;
            payloadAt += payloadLength;
            items.add(new Entry(id, state.get("policy_versions").data().getAtIndex(Tensor.I64_LE, i), payload,
                    state.get("priorities").data().getAtIndex(Tensor.F64_LE, i),
                    state.get("sequences").data().getAtIndex(Tensor.I64_LE, i)));
        }
        if (idAt != ids.byteSize() || payloadAt != payloads.byteSize()) {
            throw new IllegalArgumentException("ids or payloads have bytes no item accounts for");
        }
        Counters c = new Counters(number(meta, "table.inserted"), number(meta, "table.sampled"), number(meta, "table.removed"),
                number(meta, "table.evicted"));
        Map<String, String> caller = new LinkedHashMap<>();
        meta.forEach((k, v) -> {
            if (k.startsWith("caller.")) {
                caller.put(k.substring(7), v);
            }
        });
        return new Restored(items, c, caller);
    }

    private static long number(Map<String, String> meta, String key) {
        try {
            long v = Long.parseLong(meta.get(key));
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata " + key + " \"" + meta.get(key) + "\" is not a count");
        }
    }

    /** SHA-256 over the metadata (but the digest itself) and each column's dtype, shape and bytes. */
    private static String digest(TensorMap state) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        new TreeMap<>(state.metadata()).forEach((k, v) -> {
            if (!k.equals("table.sha256")) {
                md.update((k.length() + ":" + k + "=" + v.length() + ":" + v + ";").getBytes(StandardCharsets.UTF_8));
            }
        });
        for (String c : COLUMNS) {
            Tensor t = state.get(c);
            md.update((c + ":" + t.dtype() + Arrays.toString(t.shape()) + ";").getBytes(StandardCharsets.UTF_8));
            ModelImage.forEachBuffer(t.data(), md::update);
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
