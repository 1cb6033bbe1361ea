package dev.tributary.store;

/**
 * A sample call drew {@code count} items: the rate limiter counts samples and the samplers' random draws
 * are numbered by it, so replay needs the count to resume where the table was.
 */
public record ExperienceSampled(long count) implements ExperienceRecord {
    public ExperienceSampled {
        if (count < 1) {
            throw new IllegalArgumentException("count < 1: " + count);
        }
    }
}
