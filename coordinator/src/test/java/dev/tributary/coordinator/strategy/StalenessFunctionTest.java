package dev.tributary.coordinator.strategy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class StalenessFunctionTest {

    @Test
    void constantIsOne() {
        assertEquals(1, new StalenessFunction.Constant().weight(1000));
    }

    @Test
    void polynomialFollowsXieAndFlsim() {
        StalenessFunction p = new StalenessFunction.Polynomial(0.5, 0);
        assertEquals(1, p.weight(0));
        assertEquals(1 / Math.sqrt(4), p.weight(3), 1e-15);
        StalenessFunction normalized = new StalenessFunction.Polynomial(1, 3);
        assertEquals(1, normalized.weight(3), 1e-15);
        assertEquals(4.0 / 8, normalized.weight(7), 1e-15);
    }

    @Test
    void hingeIsFlatUpToB() {
        StalenessFunction h = new StalenessFunction.Hinge(2, 10);
        assertEquals(1, h.weight(10));
        assertEquals(1 / (2.0 * 3 + 1), h.weight(13), 1e-15);
    }

    @Test
    void refusesBadParameters() {
        assertEquals("polynomial staleness a must be finite and >= 0, got -1.0",
                assertThrows(IllegalArgumentException.class, () -> new StalenessFunction.Polynomial(-1, 0)).getMessage());
        assertEquals("hinge staleness b must be >= 0, got -1",
                assertThrows(IllegalArgumentException.class, () -> new StalenessFunction.Hinge(1, -1)).getMessage());
    }
}
