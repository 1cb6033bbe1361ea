package dev.tributary.coordinator.relay;

/** Who may exchange at the relay: the coordinator's registered workers. */
@FunctionalInterface
public interface Members {
    /** Every id is a member under its own name (a relay without a registry, in tests). */
    Members ANYONE = id -> id;

    /** The name worker {@code id} registered under, or null when it is not registered or its lease lapsed. */
    String liveName(String id);
}
