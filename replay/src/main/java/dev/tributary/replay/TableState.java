package dev.tributary.replay;

import dev.tributary.store.ExperienceRemoved;
import java.util.ArrayList;
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

    /** Removes the items that are live; returns the ids that are not (none, for a live removal). */
    List<String> remove(ExperienceRemoved.Cause cause, List<String> ids) {
        List<String> missing = new ArrayList<>(0);
        for (String id : ids) {
            if (items.remove(id) == null) {
                missing.add(id);
                continue;
            }
            removed++;
            if (cause == ExperienceRemoved.Cause.EVICTED) {
                evicted++;
            }
        }
        return missing;
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
