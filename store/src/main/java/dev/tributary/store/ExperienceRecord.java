package dev.tributary.store;

/**
 * A record of an experience table's log (module {@code replay}): items inserted, items removed, samples
 * drawn. Replaying them in order, from the newest checkpoint's position, rebuilds the table exactly as it
 * was, whatever its configuration is now. A coordinator's log never holds them.
 */
public sealed interface ExperienceRecord extends LogRecord permits ExperienceInserted, ExperienceRemoved, ExperienceSampled {}
