package dev.tributary.coordinator.service;

import dev.tributary.codec.Ef21Receiver;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The coordinator's copies of its EF21 senders' estimates h, one {@link Ef21Receiver} per worker and tensor
 * set, in memory only: at most {@code maxEntries} of them holding at most {@code maxBytes} together (0: no bound
 * beyond the count), the least recently used evicted first. A sender names the digest of the h it coded
 * against; a copy that is gone (evicted, or the coordinator restarted) or differs is refused, and the sender
 * starts again from h = 0 (an empty digest), which resets the copy: so nothing here needs to survive a
 * restart. Owned by the sequencer thread.
 */
final class Ef21Estimates implements AutoCloseable {
    /** The copy of one sender's h and its digest. */
    private static final class Entry {
        final Ef21Receiver receiver = new Ef21Receiver();
        byte[] sha256 = new byte[0];
        long bytes;
    }

    private final int maxEntries;
    private final long maxBytes;
    private final Map<String, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private final Runnable onEvict;
    private long bytes;
    private long evicted;

    /** @param onEvict told of each copy evicted for the bounds */
    Ef21Estimates(int maxEntries, long maxBytes, Runnable onEvict) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries < 1: " + maxEntries);
        }
        if (maxBytes < 0) {
            throw new IllegalArgumentException("maxBytes < 0: " + maxBytes);
        }
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.onEvict = onEvict;
    }

    /**
     * Adds the decoded {@code message} to the copy of {@code key}'s h (reset to 0 first when {@code guard} is
     * empty) and writes the new h over {@code message}'s values, in place: what the coordinator applies.
     *
     * @throws Refusal FAILED_PRECONDITION {@code ef21_estimate} when {@code guard} is not the digest of the copy
     */
    void apply(String key, byte[] guard, TensorMap message) {
        Entry e = entries.get(key);
        if (guard.length > 0) {
            byte[] held = e == null ? new byte[0] : e.sha256;
            if (!Arrays.equals(held, guard)) {
                throw Refusal.precondition("ef21_estimate", "EF21 estimate of " + key + ": the update was coded against h with"
                        + " SHA-256 " + HexFormat.of().formatHex(guard) + ", the coordinator holds "
                        + (held.length == 0 ? "none (h = 0: it restarted or evicted it)" : HexFormat.of().formatHex(held))
                        + "; reset h to 0 and send the update again");
            }
        }
        if (e == null) {
            e = new Entry();
            entries.put(key, e);
        } else if (guard.length == 0) {
            e.receiver.reset();
        }
        TensorMap h;
        try {
            h = e.receiver.accept(message);
        } catch (IllegalArgumentException ex) {
            // The same key with another layout: a sender's tensors changed under one key; start it again.
            e.receiver.reset();
            h = e.receiver.accept(message);
        }
        for (TensorInfo i : h.infos()) {
            MemorySegment.copy(h.tensor(i.name()).data(), 0, message.tensor(i.name()).data(), 0, i.byteSize());
        }
        e.sha256 = e.receiver.estimateSha256();
        bytes += e.receiver.estimateBytes() - e.bytes;
        e.bytes = e.receiver.estimateBytes();
        evict(key);
    }

    /** Drops {@code key}'s copy (its update was not taken in after all): its sender must start again from 0. */
    void drop(String key) {
        Entry e = entries.remove(key);
        if (e != null) {
            bytes -= e.bytes;
            e.receiver.close();
        }
    }

    /** Copies evicted for the bounds since start. */
    long evicted() {
        return evicted;
    }

    /** Copies held. */
    int size() {
        return entries.size();
    }

    private void evict(String keep) {
        Iterator<Map.Entry<String, Entry>> it = entries.entrySet().iterator();
        while (it.hasNext() && (entries.size() > maxEntries || (maxBytes > 0 && bytes > maxBytes))) {
            Map.Entry<String, Entry> eldest = it.next();
            if (eldest.getKey().equals(keep)) {
                continue; // the one just used stays, even alone over the byte bound
            }
            it.remove();
            bytes -= eldest.getValue().bytes;
            eldest.getValue().receiver.close();
            evicted++;
            onEvict.run();
        }
    }

    @Override
    public void close() {
        entries.values().forEach(e -> e.receiver.close());
        entries.clear();
        bytes = 0;
    }
}
