package dev.tributary.store;

import java.util.List;
import java.util.Objects;

/**
 * Items that left a table, in this order: removed by the caller (consumed) or evicted by the table's
 * remover to make room. Evictions are logged, not recomputed, so that replay never depends on the
 * configuration in force when it runs.
 */
public record ExperienceRemoved(Cause cause, List<String> ids) implements ExperienceRecord {
    /** Why the items left. */
    public enum Cause { REMOVED, EVICTED }

    public ExperienceRemoved {
        Objects.requireNonNull(cause, "cause");
        ids = List.copyOf(ids);
    }
}
