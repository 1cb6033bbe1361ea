package dev.tributary.coordinator.strategy;

/**
 * Nothing was published: an accepted update is held towards the next publish, or a tick changed nothing.
 *
 * @param pending updates held towards the next publish
 * @param needed  updates the next publish waits for (a deadline may close a round earlier)
 */
public record Buffered(int pending, int needed) implements Decision {}
