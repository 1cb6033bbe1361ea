package dev.tributary.store;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * An experience item taken into a table, exactly as it was acknowledged.
 *
 * @param id the item's id, unique in the table's history
 * @param policyVersion the version of the policy that produced the experience
 * @param priority the sampling priority, finite and ≥ 0
 * @param payload the item's bytes; for records read back by {@link LogScan}, a view valid only while the
 *     visitor runs
 */
public record ExperienceInserted(String id, long policyVersion, double priority, MemorySegment payload)
        implements ExperienceRecord {
    public ExperienceInserted {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(payload, "payload");
    }
}
