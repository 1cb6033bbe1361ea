package dev.tributary.worker.diloco;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import org.junit.jupiter.api.Test;

class NoLoCoOuterTest {
    private static TensorMap scalar(float v) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {1}, v));
    }

    private static TensorMap vector(float... v) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {v.length}, v));
    }

    private static float w(TensorMap m) {
        return m.tensor("w").getFloat(0);
    }

    @Test
    void handComputedTwoSteps() {
        // α 0.3, β 0.7, γ 0.5. Step 1 alone: φ 1, θ 1.5, δ −0.5: Δ = −0.7·(−0.5) = 0.35, φ = 1.35.
        NoLoCoOuter o = new NoLoCoOuter(scalar(1), 0.3, 0.7, 0.5);
        assertEquals(-0.5f, w(o.outerGradient(scalar(1.5f))), 1e-7);
        assertEquals(1.35f, w(o.step(scalar(1.5f), List.of(), List.of())), 1e-6);
        assertEquals(0.35f, w(o.momentumBuffer()), 1e-6);
        // Step 2 with a peer φ 2.35, δ 0.65; θ 1.0, so δ 0.35: mean δ 0.5, mean φ 1.85,
        // Δ = 0.3·0.35 − 0.7·0.5 − 0.5·(1.35 − 1.85) = 0.105 − 0.35 + 0.25 = 0.005, φ = 1.355.
        TensorMap next = o.step(scalar(1.0f), List.of(scalar(2.35f)), List.of(scalar(0.65f)));
        assertEquals(1.355f, w(next), 1e-6);
        assertEquals(0.005f, w(o.momentumBuffer()), 1e-6);
        assertEquals(1.355f, w(o.outer()), 1e-6);
    }

    @Test
    void aPairThatExchangesAtOnceTakesThePublishedUpdate() {
        // Two workers paired with each other in the same outer step, as in the paper's synchronous setting:
        // each worker's step, by the formula, with the other's φ and δ.
        double a = 0.5, b = 0.7, g = 0.4;
        float[] phiA = {1, -2, 3};
        float[] phiB = {2, 0, 1};
        float[] thA = {0.5f, -1.5f, 2};
        float[] thB = {2.5f, -1, 0};
        NoLoCoOuter oa = new NoLoCoOuter(vector(phiA), a, b, g);
        NoLoCoOuter ob = new NoLoCoOuter(vector(phiB), a, b, g);
        TensorMap dA = oa.outerGradient(vector(thA));
        TensorMap dB = ob.outerGradient(vector(thB));
        float[] nextA = oa.step(vector(thA), List.of(vector(phiB)), List.of(dB)).tensor("w").toFloatArray();
        float[] nextB = ob.step(vector(thB), List.of(vector(phiA)), List.of(dA)).tensor("w").toFloatArray();
        for (int k = 0; k < 3; k++) {
            double meanDelta = ((phiA[k] - thA[k]) + (phiB[k] - thB[k])) / 2.0;
            double meanPhi = (phiA[k] + phiB[k]) / 2.0;
            assertEquals(phiA[k] - b * meanDelta - g * (phiA[k] - meanPhi), nextA[k], 1e-5, "A[" + k + "]");
            assertEquals(phiB[k] - b * meanDelta - g * (phiB[k] - meanPhi), nextB[k], 1e-5, "B[" + k + "]");
            // The pair's mean takes DiLoCo's step over the pair; their gap shrinks by (1 − γ).
            assertEquals(meanPhi - b * meanDelta, (nextA[k] + nextB[k]) / 2.0, 1e-5);
            assertEquals((1 - g) * (phiA[k] - phiB[k]), nextA[k] - nextB[k], 1e-5);
        }
        // Second step: the momentum term carries α·Δ.
        float[] dA1 = oa.momentumBuffer().tensor("w").toFloatArray();
        float[] before = oa.outer().tensor("w").toFloatArray();
        float[] after = oa.step(vector(before), List.of(), List.of()).tensor("w").toFloatArray();
        for (int k = 0; k < 3; k++) {
            assertEquals(before[k] + a * dA1[k], after[k], 1e-5, "no inner progress and no peer: φ += α·Δ");
        }
    }

    @Test
    void refusesMisfits() {
        NoLoCoOuter o = new NoLoCoOuter(vector(1, 2), 0.3, 0.7, 0.7);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> o.outerGradient(vector(1)));
        assertEquals("tensor w: 1 elements != 2", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> o.step(vector(1, 2), List.of(new TensorMap()), List.of(vector(0, 0))));
        assertEquals("tensor w: missing", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> o.step(vector(1, 2), List.of(vector(1, 2)), List.of()));
        assertEquals("peer outer weights 1 != peer outer gradients 0", e.getMessage());
        assertArrayEquals(new float[] {1, 2}, o.outer().tensor("w").toFloatArray(), "a refused step changes nothing");
    }

    @Test
    void planChecksItsBounds() {
        var opt = dev.tributary.worker.InnerOptimizer.diloco();
        assertEquals("peer pull must be in [0, 1]: 1.5",
                assertThrows(IllegalArgumentException.class, () -> new NoLoCoPlan(10, 0.3, 0.7, 1.5, opt)).getMessage());
        assertEquals("outer momentum must be in [0, 1): 1.0",
                assertThrows(IllegalArgumentException.class, () -> new NoLoCoPlan(10, 1, 0.7, 0.5, opt)).getMessage());
        assertEquals("inner steps < 1: 0",
                assertThrows(IllegalArgumentException.class, () -> new NoLoCoPlan(0, 0.3, 0.7, 0.5, opt)).getMessage());
    }
}
