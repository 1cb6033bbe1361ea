package dev.tributary.store;

/**
 * One record of the update log. Replaying the records in order, from the newest checkpoint's position,
 * repeats every decision that changed the model: updates taken in, rounds closed by their deadline, and
 * the configuration each part of the log was accepted under. An experience table's log holds
 * {@link ExperienceRecord}s instead.
 */
public sealed interface LogRecord permits AcceptedUpdate, DeadlinePassed, StrategyConfig, Salvaged, ExperienceRecord {}
