package dev.tributary.coordinator.strategy;

import dev.tributary.coordinator.optimizer.ServerOptimizer;
import java.util.Map;
import java.util.function.Supplier;

/** Parses the configuration sections strategies share: server optimizer, staleness function, aggregator. */
final class Settings {
    private Settings() {}

    /**
     * The {@code optimizer} section: a name or a map with {@code name} and parameters. Parameters left out
     * take the strategy's defaults when the name is the strategy's default optimizer (DiLoCo's momentum
     * is lr 0.7, μ 0.9, Nesterov), the optimizer's own defaults (METHODS.md) otherwise.
     */
    static Supplier<ServerOptimizer> optimizer(Config parent, Map<String, Object> defaults) {
        String defaultName = (String) defaults.get("name");
        Config c = Config.section(parent.path("optimizer"), parent.raw("optimizer"), defaultName);
        String name = c.text("name", defaultName);
        Map<String, Object> d = name.equals(defaultName) ? defaults : Map.of();
        Supplier<ServerOptimizer> built = switch (name) {
            case "sgd" -> {
                double lr = c.positive("lr", num(d, "lr", 1.0));
                yield () -> ServerOptimizer.sgd(lr);
            }
            case "momentum" -> {
                double lr = c.positive("lr", num(d, "lr", 1.0));
                double mu = unit(c, "momentum", num(d, "momentum", 0.0));
                boolean nesterov = c.flag("nesterov", (Boolean) d.getOrDefault("nesterov", false));
                yield () -> ServerOptimizer.momentum(lr, mu, nesterov);
            }
            case "adam", "yogi" -> {
                boolean adam = name.equals("adam");
                double lr = c.positive("lr", num(d, "lr", adam ? 0.1 : 0.01));
                double b1 = unit(c, "beta1", num(d, "beta1", 0.9));
                double b2 = unit(c, "beta2", num(d, "beta2", 0.99));
                double tau = c.positive("tau", num(d, "tau", 1e-3));
                yield adam ? () -> ServerOptimizer.adam(lr, b1, b2, tau) : () -> ServerOptimizer.yogi(lr, b1, b2, tau);
            }
            case "adagrad" -> {
                double lr = c.positive("lr", num(d, "lr", 0.1));
                double tau = c.positive("tau", num(d, "tau", 1e-3));
                yield () -> ServerOptimizer.adagrad(lr, tau);
            }
            default -> throw new IllegalArgumentException(c.path("name") + ": unknown optimizer \"" + name
                    + "\" (expected sgd, momentum, adam, yogi or adagrad)");
        };
        c.finish();
        return built;
    }

    /** The {@code staleness} section; {@code defaultName} and {@code defaultA} differ between strategies. */
    static StalenessFunction staleness(Config parent, String defaultName, double defaultA) {
        Config c = Config.section(parent.path("staleness"), parent.raw("staleness"), defaultName);
        String name = c.text("name", defaultName);
        StalenessFunction f = switch (name) {
            case "constant" -> new StalenessFunction.Constant();
            case "polynomial" -> new StalenessFunction.Polynomial(c.nonNegative("a", defaultA),
                    c.nonNegative("avg_staleness", 0));
            case "hinge" -> new StalenessFunction.Hinge(c.nonNegative("a", 1), c.whole("b", 10, 0));
            default -> throw new IllegalArgumentException(c.path("name") + ": unknown staleness function \"" + name
                    + "\" (expected constant, polynomial or hinge)");
        };
        c.finish();
        return f;
    }

    /**
     * The {@code aggregator} name and {@code aggregator_params}; a merge method is checked against every
     * number of updates in {@code counts} that the strategy may aggregate.
     */
    static Aggregator aggregator(Config parent, String defaultName, int... counts) {
        String name = parent.text("aggregator", defaultName);
        Map<String, Object> params = parent.map("aggregator_params");
        return switch (name) {
            case "mean", "sum" -> {
                if (!params.isEmpty()) {
                    throw new IllegalArgumentException(parent.path("aggregator_params") + ": aggregator " + name
                            + " takes no parameters, got " + params.keySet());
                }
                yield name.equals("mean") ? Aggregator.weightedMean() : Aggregator.weightedSum();
            }
            default -> MergeAggregator.of(parent.path("aggregator"), name, params, counts);
        };
    }

    /** {@code weighting}: {@code examples} (weights are example counts) or {@code uniform}. */
    static boolean weightByExamples(Config c, String dflt) {
        String w = c.text("weighting", dflt);
        return switch (w) {
            case "examples" -> true;
            case "uniform" -> false;
            default -> throw new IllegalArgumentException(c.path("weighting") + ": must be examples or uniform, got \""
                    + w + "\"");
        };
    }

    /** {@code max_staleness}, unbounded when absent. */
    static long maxStaleness(Config c, long dflt) {
        return c.whole("max_staleness", dflt, 0);
    }

    static double unit(Config c, String key, double dflt) {
        double v = c.number(key, dflt);
        if (!(v >= 0 && v < 1)) {
            throw new IllegalArgumentException(c.path(key) + ": must be in [0, 1), got " + v);
        }
        return v;
    }

    private static double num(Map<String, Object> d, String key, double dflt) {
        Object v = d.get(key);
        return v == null ? dflt : ((Number) v).doubleValue();
    }
}
