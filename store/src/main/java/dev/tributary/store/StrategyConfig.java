package dev.tributary.store;

import java.util.Objects;

/**
 * The strategy configuration that governs the records after this one, as a canonical YAML map; written
 * when a state is created and whenever a restart brings a different configuration, so that replay judges
 * every logged record under the configuration it was accepted with.
 */
public record StrategyConfig(String strategy, String yaml) implements LogRecord {
    public StrategyConfig {
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(yaml, "yaml");
    }
}
