package dev.tributary.coordinator.strategy;

/** What a strategy did with an update or a tick: held it, published a new version, or refused it. */
public sealed interface Decision permits Buffered, Published, Refused {}
