package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StrategiesTest {

    private static String refusal(String name, Map<String, Object> cfg) {
        return refusal(name, cfg, scalar(0));
    }

    private static String refusal(String name, Map<String, Object> cfg, TensorMap model) {
        return assertThrows(IllegalArgumentException.class, () -> Strategies.create(name, cfg, model)).getMessage();
    }

    @Test
    void everyNamedStrategyStartsAtVersionZeroWithDefaults() {
        for (String name : Strategies.NAMES) {
            Strategy s = Strategies.create(name, Map.of(), scalar(3));
            assertEquals(name, s.name());
            assertEquals(0, s.version());
            assertEquals(3, Fixtures.value(s.model()));
            assertEquals(name, s.exportState().metadata().get("strategy"));
        }
    }

    @Test
    void namesTheUnknownStrategyAndKey() {
        assertEquals("strategy: unknown name \"fedprox\" (expected fedavg, fedasync, fedbuff, diloco)",
                refusal("fedprox", Map.of()));
        assertEquals("fedbuff: unknown key \"bufer_size\" (known: aggregator, aggregator_params, buffer_fraction, "
                + "buffer_size, examples_floor, initial_buffer_size, max_buffer_size, max_staleness, optimizer, "
                + "participation_cap, participation_weights, staleness, step_scale, weighting)", refusal("fedbuff", Map.of("bufer_size", 4)));
        assertEquals("fedbuff.optimizer: unknown key \"momentum\" (known: lr, name)",
                refusal("fedbuff", Map.of("optimizer", Map.of("name", "sgd", "momentum", 0.9))));
    }

    @Test
    void namesTheKeyAndTheRuleOfABadValue() {
        assertEquals("fedavg.min_workers: must be a whole number >= 1, got 0", refusal("fedavg", Map.of("min_workers", 0)));
        assertEquals("fedavg.fraction: needs fedavg.workers (the number of workers to take the fraction of)",
                refusal("fedavg", Map.of("fraction", 0.5)));
        assertEquals("fedavg.fraction: must be in (0, 1], got 1.5", refusal("fedavg", Map.of("fraction", 1.5, "workers", 4)));
        assertEquals("fedasync.alpha: must be in (0, 1], got 0.0", refusal("fedasync", Map.of("alpha", 0)));
        assertEquals("fedasync.mixing: must be model or delta, got \"models\"", refusal("fedasync", Map.of("mixing", "models")));
        assertEquals("fedasync.aggregator: fedasync mixes one update at a time; aggregators apply to fedavg, fedbuff and diloco",
                refusal("fedasync", Map.of("aggregator", "median")));
        assertEquals("fedbuff.staleness.name: unknown staleness function \"linear\" (expected constant, polynomial or hinge)",
                refusal("fedbuff", Map.of("staleness", "linear")));
        assertEquals("diloco.optimizer.name: unknown optimizer \"lamb\" (expected sgd, momentum, adam, yogi or adagrad)",
                refusal("diloco", Map.of("optimizer", "lamb")));
        assertEquals("diloco.optimizer.momentum: must be in [0, 1), got 1.0",
                refusal("diloco", Map.of("optimizer", Map.of("momentum", 1.0))));
        assertEquals("diloco.optimizer.lr: must be > 0, got -0.7", refusal("diloco", Map.of("optimizer", Map.of("lr", -0.7))));
        assertEquals("diloco.min_workers: must be <= workers 2, got 3", refusal("diloco", Map.of("min_workers", 3)));
        assertEquals("fedavg.weighting: must be examples or uniform, got \"tokens\"",
                refusal("fedavg", Map.of("weighting", "tokens")));
        assertEquals("fedavg.max_staleness: must be a whole number >= 0, got 1.5", refusal("fedavg", Map.of("max_staleness", 1.5)));
        assertEquals("fedavg.aggregator_params: aggregator mean takes no parameters, got [beta]",
                refusal("fedavg", Map.of("aggregator_params", Map.of("beta", 0.1))));
    }

    @Test
    void acceptsYamlShapedValues() {
        Strategy s = Strategies.create("fedbuff", Map.of("buffer_size", "2", "max_staleness", 3L,
                "staleness", Map.of("name", "hinge", "a", "0.5", "b", 2.0), "optimizer", Map.of("name", "adam", "lr", 0.01f)),
                scalar(0));
        assertEquals(new Buffered(1, 2), s.onUpdate(Fixtures.update("a", 0, 1, scalar(1))));
    }

    @Test
    void dilocoDefaultsToTheOuterNesterovStepOfThePaper() {
        Strategy s = Strategies.create("diloco", Map.of("optimizer", Map.of("lr", 0.7)), scalar(1));
        Strategy explicit = Strategies.create("diloco",
                Map.of("optimizer", Map.of("name", "momentum", "lr", 0.7, "momentum", 0.9, "nesterov", true)), scalar(1));
        for (int r = 0; r < 3; r++) {
            for (Strategy x : new Strategy[] {s, explicit}) {
                x.onUpdate(Fixtures.update("a" + r, r, 1, scalar(-0.5)));
                x.onUpdate(Fixtures.update("b" + r, r, 1, scalar(0.25)));
            }
        }
        assertEquals(Fixtures.value(explicit.model()), Fixtures.value(s.model()));
        assertEquals("momentum", s.exportState().metadata().get("optimizer/0/optimizer"));
    }

    @Test
    void refusesModelsThatAreNotF32() {
        TensorMap half = new TensorMap().put("w", Tensor.ofFloats(DType.F16, new long[] {1}, 1));
        assertEquals("initial model: tensor w has dtype F16, strategies need F32", refusal("fedavg", Map.of(), half));
        assertEquals("initial model: has no tensors", refusal("fedavg", Map.of(), new TensorMap()));
    }
}
