package dev.tributary.merge.config;

import dev.tributary.merge.MergeException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Parameter values as mergekit evaluates them: gradients interpolated over depth, first matching filter. */
class SettingTest {

    @Test
    void gradientsInterpolateBetweenEvenlySpreadAnchors() {
        Setting g = Setting.parse(List.of(0, 0.5, 0.3, 0.7, 1), "t");
        assertEquals(0.0, (double) g.evaluate("x", 0), 0);
        assertEquals(0.8 * 0.5 + 0.2 * 0.3, (double) g.evaluate("x", 0.3), 1e-15);
        assertEquals(0.7, (double) g.evaluate("x", 0.75), 1e-15);
        assertEquals(1.0, (double) g.evaluate("x", 1), 0);
        assertEquals(0.4, (double) Setting.parse(List.of(0.4), "t").evaluate("x", 0.6), 0);
        assertEquals(true, Setting.parse(List.of(false, true), "t").evaluate("x", 1));
    }

    @Test
    void theFirstMatchingFilterGivesTheValueAndNoMatchGivesNothing() {
        Setting f = Setting.parse(List.of(Map.of("filter", "self_attn", "value", 0.5),
                Map.of("filter", "mlp", "value", List.of(1, 0)), Map.of("filter", "*", "value", 0.1)), "t");
        assertEquals(0.5, f.evaluate("model.layers.0.self_attn.q_proj.weight", 0.5));
        assertEquals(0.5, (double) f.evaluate("model.layers.0.mlp.up_proj.weight", 0.5), 1e-15);
        assertEquals(0.1, f.evaluate("model.norm.weight", 0.5));
        assertNull(Setting.parse(List.of(Map.of("filter", "mlp", "value", 1)), "t").evaluate("lm_head.weight", 0));
        assertEquals(2, Setting.parse(Map.of("value", 2), "t").evaluate("anything", 0));
    }

    @Test
    void badListsAreOneLineNamingTheKeyAndTheRule() {
        assertEquals("m.yaml: models[0].parameters.weight: an empty list; a gradient needs at least one value",
                assertThrows(MergeException.class, () -> Setting.parse(List.of(), "m.yaml: models[0].parameters.weight"))
                        .getMessage());
        assertEquals("w: [1, a] mixes kinds; a list is a gradient of numbers (or booleans) or a list of {filter, value} "
                + "entries", assertThrows(MergeException.class, () -> Setting.parse(List.of(1, "a"), "w")).getMessage());
        assertEquals("w[0]: key filtre: unknown (known: filter, value)", assertThrows(MergeException.class,
                () -> Setting.parse(List.of(Map.of("filtre", "mlp", "value", 1)), "w")).getMessage());
        assertEquals("w[0]: a {filter, value} entry needs a value", assertThrows(MergeException.class,
                () -> Setting.parse(List.of(Map.of("filter", "mlp")), "w")).getMessage());
    }
}
