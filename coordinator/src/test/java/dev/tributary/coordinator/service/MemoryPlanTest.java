package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.ServiceLimits;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MemoryPlanTest {
    static final long UPDATE = 100L << 20;

    @Test
    void theDefaultBudgetHoldsWhatTheStrategyKeepsPlusTwoArriving() {
        assertEquals(2 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("fedasync"), UPDATE).budget());
        // FedBuff folds deltas in as they come with the mean or sum: its buffer needs no receive memory.
        assertEquals(2 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("fedbuff"), UPDATE).budget());
        assertEquals(2 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("fedbuff")
                .withStrategyConfig(Map.of("buffer_size", 40, "aggregator", "sum")), UPDATE).budget());
        assertEquals(2 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("fedbuff")
                .withStrategyConfig(Map.of("buffer_size", "auto", "max_buffer_size", 500)), UPDATE).budget());
        assertEquals(6 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("fedbuff")
                .withStrategyConfig(Map.of("buffer_size", 4, "aggregator", "median")), UPDATE).budget());
        assertEquals(7 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("fedavg")
                .withStrategyConfig(Map.of("workers", 10, "fraction", 0.5)), UPDATE).budget());
        assertEquals(4 * UPDATE, MemoryPlan.of(CoordinatorConfig.defaults("diloco"), UPDATE).budget());
        assertEquals(MemoryPlan.MIN_DEFAULT_BUDGET, MemoryPlan.of(CoordinatorConfig.defaults("fedasync"), 1000).budget());
        MemoryPlan p = MemoryPlan.of(CoordinatorConfig.defaults("fedasync"), UPDATE);
        assertEquals(2 * UPDATE, p.tokenShare());
        assertEquals(UPDATE, p.workerShare());
    }

    @Test
    void aBudgetThatCannotHoldThePublishIsRefusedAtStart() {
        CoordinatorConfig fedbuff = CoordinatorConfig.defaults("fedbuff").withStrategyConfig(Map.of("aggregator", "median"));
        long atTheBound = 11 * UPDATE;
        assertEquals(atTheBound, MemoryPlan.of(fedbuff.withLimits(ServiceLimits.DEFAULTS.withMemoryBudget(atTheBound)
                .withMemoryShares(1, 1)), UPDATE).budget());
        String m = assertThrows(IllegalArgumentException.class, () -> MemoryPlan.of(fedbuff.withLimits(
                ServiceLimits.DEFAULTS.withMemoryBudget(atTheBound - 1)), UPDATE)).getMessage();
        assertTrue(m.startsWith("memory_budget_bytes: " + (atTheBound - 1) + " cannot hold the 10 updates fedbuff keeps"), m);
        m = assertThrows(IllegalArgumentException.class, () -> MemoryPlan.of(CoordinatorConfig.defaults("fedasync")
                .withLimits(ServiceLimits.DEFAULTS.withMemoryShares(1, 0.49)), UPDATE)).getMessage();
        assertTrue(m.startsWith("worker_memory_share: 0.49 of memory_budget_bytes"), m);
    }
}
