package dev.tributary.replay;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * The live items of a table, indexed three ways: by id in insertion order (FIFO sampling and eviction), in
 * a dense array of slots (uniform draws; a removal moves the last slot into the hole), and, for
 * prioritized sampling, in a sum tree over the slots. The slot order is part of the state a checkpoint
 * keeps, so that draws after a restart are the ones an uninterrupted table would make.
 */
final class Items {
    private final LinkedHashMap<String, Entry> byId = new LinkedHashMap<>();
    private Entry[] slots = new Entry[16];
    private int size;
    private long bytes;
    private final SumTree weights;
    private final double exponent;

    Items(Sampler sampler) {
        if (sampler instanceof Sampler.Prioritized p) {
            this.weights = new SumTree(16);
            this.exponent = p.exponent();
        } else {
            this.weights = null;
            this.exponent = 0;
        }
    }

    int size() {
        return size;
    }

    /** Bytes the live items take, as {@link TableConfig#footprint} counts them. */
    long bytes() {
        return bytes;
    }

    boolean contains(String id) {
        return byId.containsKey(id);
    }

    /** The sampling weight of a priority: priority^exponent, which must be finite. */
    double weight(double priority) {
        return weights == null ? 1 : Math.pow(priority, exponent);
    }

    void add(Entry e) {
        if (size == slots.length) {
            slots = Arrays.copyOf(slots, slots.length * 2);
        }
        e.slot = size;
        slots[size++] = e;
        byId.put(e.id, e);
        bytes += e.footprint();
        if (weights != null) {
            weights.set(e.slot, weight(e.priority));
        }
    }

    /** Removes the item, or returns null when it is not here. */
    Entry remove(String id) {
        Entry e = byId.remove(id);
        if (e == null) {
            return null;
        }
        int last = --size;
        Entry moved = slots[last];
        slots[e.slot] = moved;
        moved.slot = e.slot;
        slots[last] = null;
        if (weights != null) {
            weights.set(e.slot, weights.get(last));
            weights.set(last, 0);
        }
        bytes -= e.footprint();
        e.slot = -1;
        return e;
    }

    Entry oldest() {
        return size == 0 ? null : byId.firstEntry().getValue();
    }

    /** Live items from the oldest. */
    Iterable<Entry> inOrder() {
        return byId.values();
    }

    /**
     * The item a draw {@code u ∈ [0, 1)} selects: in proportion to the weights when prioritized and any
     * weight is positive, else uniformly over the slots. Needs {@code size() > 0}.
     */
    Entry draw(double u) {
        if (weights != null && weights.total() > 0) {
            return slots[weights.find(u * weights.total())];
        }
        return slots[Math.min(size - 1, (int) (u * size))];
    }

    /** The live items in slot order, the order a checkpoint keeps. */
    List<Entry> inSlotOrder() {
        return new ArrayList<>(Arrays.asList(slots).subList(0, size));
    }

    /** Fills an empty set with items in the slot order a checkpoint kept; ids in the order of insertion. */
    void restore(List<Entry> inSlotOrder) {
        if (size != 0) {
            throw new IllegalStateException("restore into a table holding " + size + " items");
        }
        inSlotOrder.forEach(this::add);
        List<Entry> bySequence = new ArrayList<>(inSlotOrder);
        bySequence.sort(Comparator.comparingLong(e -> e.sequence));
        byId.clear();
        bySequence.forEach(e -> byId.put(e.id, e));
    }
}
