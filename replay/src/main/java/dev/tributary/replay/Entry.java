package dev.tributary.replay;

import java.lang.foreign.MemorySegment;

/** A live item: what was inserted, and the slot it holds in the table's dense array. */
final class Entry {
    final String id;
    final long policyVersion;
    final byte[] payload;
    final double priority;
    final long sequence;
    int slot = -1;

    Entry(String id, long policyVersion, byte[] payload, double priority, long sequence) {
        this.id = id;
        this.policyVersion = policyVersion;
        this.payload = payload;
        this.priority = priority;
        this.sequence = sequence;
    }

    long footprint() {
        return TableConfig.footprint(payload.length, id.length());
    }

    Item item() {
        return new Item(id, policyVersion, MemorySegment.ofArray(payload).asReadOnly(), priority, sequence);
    }
}
