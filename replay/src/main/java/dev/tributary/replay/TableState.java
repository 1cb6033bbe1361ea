package dev.tributary.replay;

import dev.tributary.store.ExperienceRemoved;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A table's in-memory state and the only ways it changes, one per kind of log record: live operations
 * and replay go through the same methods, so replaying the log repeats what the table did.
 */
final class TableState {
    final Items items;
    /** Every id ever inserted, gone or not: a retried insert is recognized. */
    final Set<String> known = new HashSet<>();
    long inserted;
    long sampled;
    /** Items gone, by removal or eviction: Reverb's deletes. */
    long removed;
    long evicted;

    TableState(Sampler sampler) {
        this.items = new Items(sampler);
    }

    void insert(Entry e) {
        items.add(e);
        known.add(e.id);
        inserted++;
    }

    /** Removes the items; returns the first id that is not live (the rest untouched from it on), or null. */
    String remove(ExperienceRemoved.Cause cause, List<String> ids) {
        for (String id : ids) {
            if (items.remove(id) == null) {
                return id;
            }
            removed++;
            if (cause == ExperienceRemoved.Cause.EVICTED) {
                evicted++;
            }
        }
        return null;
    }

    void sampled(long n) {
        sampled += n;
    }

    void restore(TableImage.Restored r) {
        items.restore(r.inSlotOrder());
        inserted = r.counters().inserted();
        sampled = r.counters().sampled();
        removed = r.counters().removed();
        evicted = r.counters().evicted();
    }

    TableImage.Counters counters() {
        return new TableImage.Counters(inserted, sampled, removed, evicted);
    }
}
