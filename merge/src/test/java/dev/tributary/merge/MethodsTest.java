package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Rules of individual methods that the fixtures do not pin down on their own. */
class MethodsTest {

    private static TensorMap one(float... values) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {values.length}, values));
    }

    private static float[] merge(String method, List<Weighted<TensorSource>> inputs, TensorSource base,
                                 Map<String, Object> params) {
        return Merges.merge(method, inputs, base, params).get("w").toFloatArray();
    }

    private static MergeJob.Input input(String name, TensorMap t, Map<String, Object> params) {
        return new MergeJob.Input(name, t, params);
    }

    @Test
    void flowerAggregateVector() {
        TensorMap client = new TensorMap()
                .put("0", Tensor.ofFloats(new long[] {2, 3}, 1, 2, 3, 4, 5, 6))
                .put("1", Tensor.ofFloats(new long[] {4}, 7, 8, 9, 10));
        List<Weighted<TensorSource>> in = List.of(new Weighted<>(client, 1), new Weighted<>(client, 2));
        for (String method : List.of("linear", "median", "trimmed_mean", "krum", "multi_krum")) {
            TensorMap out = Merges.merge(method, in, null, Map.of());
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, out.get("0").toFloatArray(), 1e-6f, method);
            assertArrayEquals(new float[] {7, 8, 9, 10}, out.get("1").toFloatArray(), 1e-6f, method);
        }
    }

    @Test
    void acceptsWeightedTensorMapsAsTheCoordinatorHoldsThem() {
        List<Weighted<TensorMap>> updates = List.of(new Weighted<>(one(2, 4), 3), new Weighted<>(one(6, 0), 1));
        assertArrayEquals(new float[] {3, 3}, Merges.merge("linear", updates, null, Map.of()).get("w").toFloatArray(),
                1e-6f);
    }

    @Test
    void linearWeighsByExamples() {
        float[] out = merge("linear", List.of(new Weighted<>(one(1, 0), 1), new Weighted<>(one(3, 3), 2)), null, Map.of());
        assertArrayEquals(new float[] {7f / 3, 2f}, out, 1e-6f);
        float[] sum = merge("linear", List.of(new Weighted<>(one(1, 0), 1), new Weighted<>(one(3, 3), 2)), null,
                Map.of("normalize", false));
        assertArrayEquals(new float[] {7, 6}, sum, 0f);
        MergeException e = assertThrows(MergeException.class, () -> merge("linear",
                List.of(new Weighted<>(one(1), 1), new Weighted<>(one(3), -1)), null, Map.of()));
        assertTrue(e.getMessage().startsWith("parameters.normalize: "), e.getMessage());
    }

    @Test
    void linearRefusesANonFiniteInputEvenAtWeightZero() {
        // Weighted by 0 it would not change a finite result's other entries, but 0 * inf = NaN: refused, named.
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            MergeException e = assertThrows(MergeException.class, () -> merge("linear",
                    List.of(new Weighted<>(one(1, 2, 3), 1), new Weighted<>(one(4, bad, 6), 0)), null,
                    Map.of("normalize", false)));
            assertTrue(e.getMessage().contains("element 1 is " + bad), e.getMessage());
        }
        // Finite inputs whose sum overflows are not refused: the check is of the inputs, as before.
        float[] big = merge("linear", List.of(new Weighted<>(one(Float.MAX_VALUE), 1),
                new Weighted<>(one(Float.MAX_VALUE), 1)), null, Map.of("normalize", false));
        assertEquals(Float.POSITIVE_INFINITY, big[0]);
    }

    @Test
    void linearOfFourLargeTensorsNamesTheFirstModelWithANonFiniteValue() {
        // Long enough for several chunks of the kernel that checks while it sums; two models poisoned.
        int n = 40_000;
        List<Weighted<TensorSource>> in = new ArrayList<>();
        for (int m = 0; m < 4; m++) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) Math.sin(i * 0.37 + m);
            }
            if (m == 1) {
                v[30_001] = Float.NEGATIVE_INFINITY;
            }
            if (m == 3) {
                v[5] = Float.NaN;
            }
            in.add(new Weighted<>(one(v), m + 1));
        }
        MergeException e = assertThrows(MergeException.class, () -> merge("linear", in, null, Map.of()));
        assertEquals("model input 1: tensor w: element 30001 is -Infinity; inputs must be finite", e.getMessage());
    }

    @Test
    void tiesElectsPlusOnATieAndZerosNeverAgree() {
        TensorMap base = one(0, 0, 0);
        // Entry 0: +1 and -1 with equal weight sum to 0: the sign is +, only the +1 counts.
        // Entry 1: 0 and +2: the zero delta does not agree, so the divisor is one weight only.
        // Entry 2: -1 and -3: both agree on -.
        float[] out = merge("ties", List.of(new Weighted<>(one(1, 0, -1), 1), new Weighted<>(one(-1, 2, -3), 1)), base,
                Map.of());
        assertArrayEquals(new float[] {1, 2, -2}, out, 0f);
        float[] sum = merge("ties", List.of(new Weighted<>(one(1, 0, -1), 1), new Weighted<>(one(-1, 2, -3), 1)), base,
                Map.of("normalize", false, "lambda", 0.5));
        assertArrayEquals(new float[] {0.5f, 1, -2}, sum, 0f);
    }

    @Test
    void tiesKeepsTheLargestMagnitudesPerModelAndTensor() {
        TensorMap base = one(0, 0, 0, 0);
        MergeJob.Input a = input("a", one(4, -3, 2, 1), Map.of("weight", 1.0, "density", 0.5));
        TensorMap out = Merges.merge(MergeMethods.byName("ties"), List.of(a), base, Map.of(), null);
        assertArrayEquals(new float[] {4, -3, 0, 0}, out.get("w").toFloatArray(), 0f);
    }

    @Test
    void breadcrumbsDropsTheLargestGammaAndTheSmallest() {
        float[] values = new float[100];
        for (int i = 0; i < values.length; i++) {
            values[i] = i + 1;
        }
        MergeJob.Input a = input("a", one(values), Map.of("weight", 1.0, "density", 0.5, "gamma", 0.1));
        float[] out = Merges.merge(MergeMethods.byName("breadcrumbs"), List.of(a), one(new float[100]), Map.of(), null)
                .get("w").toFloatArray();
        for (int i = 0; i < 100; i++) {
            boolean kept = i + 1 > 40 && i + 1 <= 90;
            assertEquals(kept ? i + 1 : 0, out[i], 0f, "entry " + i);
        }
    }

    @Test
    void breadcrumbsDropsTheWholeDeltaOfATensorWithFewerThanOneOverGammaEntries() {
        // floor(0.01 * 99) = 0 largest entries to drop: mergekit's kept range sorted[bottom:-0] is empty
        float[] small = new float[99];
        float[] large = new float[100];
        for (int i = 0; i < large.length; i++) {
            large[i] = i + 1;
            if (i < small.length) {
                small[i] = i + 1;
            }
        }
        for (String method : List.of("breadcrumbs", "breadcrumbs_ties")) {
            MergeJob.Input s = input("a", one(small), Map.of("weight", 1.0, "density", 0.9, "gamma", 0.01));
            float[] out = Merges.merge(MergeMethods.byName(method), List.of(s), one(new float[99]), Map.of(), null)
                    .get("w").toFloatArray();
            assertArrayEquals(new float[99], out, 0f, method + ": 99 entries");
            MergeJob.Input l = input("a", one(large), Map.of("weight", 1.0, "density", 0.9, "gamma", 0.01));
            float[] kept = Merges.merge(MergeMethods.byName(method), List.of(l), one(new float[100]), Map.of(), null)
                    .get("w").toFloatArray();
            for (int i = 0; i < 100; i++) {
                assertEquals(i + 1 > 9 && i + 1 < 100 ? i + 1 : 0, kept[i], 0f, method + ": entry " + i);
            }
        }
    }

    @Test
    void dareKeepsAboutDensityRescalesTheL1NormAndIsSeeded() {
        int n = 20_000;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (i % 7) - 3;
        }
        TensorMap base = one(new float[n]);
        MergeJob.Input a = input("a", one(values), Map.of("weight", 1.0, "density", 0.3));
        float[] out = Merges.merge(MergeMethods.byName("dare_linear"), List.of(a), base, Map.of("seed", 5), null)
                .get("w").toFloatArray();
        int kept = 0;
        double l1 = 0;
        double original = 0;
        for (int i = 0; i < n; i++) {
            kept += out[i] != 0 ? 1 : 0;
            l1 += Math.abs(out[i]);
            original += Math.abs(values[i]);
        }
        int nonZero = n - n / 7;
        assertEquals(0.3 * nonZero, kept, 0.03 * nonZero, "kept entries");
        assertEquals(original, l1, 1e-3 * original, "L1 norm after rescale");
        float[] again = Merges.merge(MergeMethods.byName("dare_linear"), List.of(a), base, Map.of("seed", 5), null)
                .get("w").toFloatArray();
        float[] other = Merges.merge(MergeMethods.byName("dare_linear"), List.of(a), base, Map.of("seed", 6), null)
                .get("w").toFloatArray();
        assertArrayEquals(out, again, 0f);
        assertTrue(!java.util.Arrays.equals(out, other), "a different seed gives a different mask");
    }

    @Test
    void dareStreamIsTheDocumentedSplitMix() {
        long key = DareRandom.key(42, "w", 0);
        assertEquals(DareRandom.mix(42 ^ DareRandom.mix(DareRandom.fnv1a("w") + DareRandom.GOLDEN)), key);
        assertEquals(0xAF63DC4C8601EC8CL, DareRandom.fnv1a("a"), "FNV-1a of \"a\"");
        double u = DareRandom.uniform(key, 3);
        assertTrue(u >= 0 && u < 1);
        assertEquals((DareRandom.mix(key + DareRandom.GOLDEN * 4) >>> 40) / (double) (1 << 24), u);
    }

    @Test
    void slerpEndpointsAreTheModels() {
        TensorMap base = one(1, 0, 0);
        TensorMap other = one(0, 1, 0);
        assertArrayEquals(new float[] {1, 0, 0}, merge("slerp", List.of(new Weighted<>(other, 1)), base, Map.of("t", 0.0)),
                1e-7f);
        assertArrayEquals(new float[] {0, 1, 0}, merge("slerp", List.of(new Weighted<>(other, 1)), base, Map.of("t", 1.0)),
                1e-7f);
        float h = (float) Math.sqrt(0.5);
        assertArrayEquals(new float[] {h, h, 0}, merge("slerp", List.of(new Weighted<>(other, 1)), base,
                Map.of("t", 0.5)), 1e-7f);
        MergeException e = assertThrows(MergeException.class,
                () -> merge("slerp", List.of(new Weighted<>(other, 1)), base, Map.of()));
        assertEquals("parameters.t: required by slerp", e.getMessage());
    }

    @Test
    void modelStockNeedsTwoModelsAndUsesTheirAngle() {
        TensorMap base = one(0, 0);
        MergeException e = assertThrows(MergeException.class,
                () -> merge("model_stock", List.of(new Weighted<>(one(1, 0), 1)), base, Map.of()));
        assertTrue(e.getMessage().contains("at least 2 models"), e.getMessage());
        // Orthogonal deltas: cos 0, t 0: the base.
        assertArrayEquals(new float[] {0, 0}, merge("model_stock",
                List.of(new Weighted<>(one(1, 0), 1), new Weighted<>(one(0, 1), 1)), base, Map.of()), 0f);
        // Deltas at 60 degrees: cos 0.5, t = 2·0.5/1.5 = 2/3 of the mean.
        float s = (float) Math.sqrt(3) / 2;
        float[] out = merge("model_stock", List.of(new Weighted<>(one(1, 0), 1), new Weighted<>(one(0.5f, s), 1)), base,
                Map.of());
        assertArrayEquals(new float[] {2f / 3 * 0.75f, 2f / 3 * s / 2}, out, 1e-6f);
    }

    @Test
    void fisherWeighsByInformationFlooredAtOneMillionth() {
        TensorMap fa = one(3, 0);
        TensorMap fb = one(1, 0);
        List<MergeJob.Input> in = List.of(input("a", one(1, 1), Map.of("fisher", fa)),
                input("b", one(5, 3), Map.of("fisher", fb, "weight", 2.0)));
        float[] out = Merges.merge(MergeMethods.byName("fisher"), in, null, Map.of(), null).get("w").toFloatArray();
        assertArrayEquals(new float[] {(3 * 1 + 2 * 5) / 5f, (1e-6f + 2e-6f * 3) / 3e-6f}, out, 1e-6f);
        MergeException e = assertThrows(MergeException.class, () -> Merges.merge(MergeMethods.byName("fisher"),
                List.of(input("a", one(1, 1), Map.of())), null, Map.of(), null));
        assertEquals("models[0] (a): parameters.fisher: required by fisher", e.getMessage());
    }

    @Test
    void medianAndTrimmedMeanAreCoordinateWise() {
        List<Weighted<TensorSource>> in = new ArrayList<>();
        for (float[] v : new float[][] {{1, 10}, {2, -100}, {3, 20}, {100, 30}}) {
            in.add(new Weighted<>(one(v), 1));
        }
        assertArrayEquals(new float[] {2.5f, 15}, merge("median", in, null, Map.of()), 0f);
        assertArrayEquals(new float[] {2, 10}, merge("median", in.subList(0, 3), null, Map.of()), 0f);
        assertArrayEquals(new float[] {2.5f, 15}, merge("trimmed_mean", in, null, Map.of("beta", 0.25)), 0f);
        assertArrayEquals(new float[] {26.5f, -10}, merge("trimmed_mean", in, null, Map.of("beta", 0.2)), 0f);
        MergeException e = assertThrows(MergeException.class,
                () -> merge("trimmed_mean", in, null, Map.of("beta", 0.5)));
        assertTrue(e.getMessage().startsWith("parameters.beta: "), e.getMessage());
    }

    @Test
    void krumPicksTheModelClosestToItsNeighboursOverTheWholeModel() {
        TensorMap a = new TensorMap().put("x", Tensor.ofFloats(new long[] {1}, 0)).put("y", Tensor.ofFloats(new long[] {1}, 0));
        TensorMap b = new TensorMap().put("x", Tensor.ofFloats(new long[] {1}, 1)).put("y", Tensor.ofFloats(new long[] {1}, 0));
        TensorMap c = new TensorMap().put("x", Tensor.ofFloats(new long[] {1}, 0)).put("y", Tensor.ofFloats(new long[] {1}, 2));
        TensorMap d = new TensorMap().put("x", Tensor.ofFloats(new long[] {1}, 50)).put("y", Tensor.ofFloats(new long[] {1}, 50));
        List<Weighted<TensorSource>> in = List.of(new Weighted<>(d, 1), new Weighted<>(b, 1), new Weighted<>(a, 1),
                new Weighted<>(c, 3));
        // f = 1: each model scores its nearest other; a is nearest to b (1) and scores 1; b scores 1 too: the
        // tie goes to the earlier input, b.
        TensorMap k = Merges.merge("krum", in, null, Map.of("byzantine", 1));
        assertEquals(1f, k.get("x").getFloat(0));
        assertEquals(0f, k.get("y").getFloat(0));
        // Keep 3: b, a and c, weighted 1, 1, 3.
        TensorMap mk = Merges.merge("multi_krum", in, null, Map.of("byzantine", 1, "keep", 3));
        assertEquals(1f / 5, mk.get("x").getFloat(0), 1e-7f);
        assertEquals(6f / 5, mk.get("y").getFloat(0), 1e-7f);
        MergeException e = assertThrows(MergeException.class,
                () -> Merges.merge("multi_krum", in, null, Map.of("keep", 5)));
        assertEquals("parameters.keep: 5 is outside [1, 4]", e.getMessage());
    }

    @Test
    void unknownMethodListsTheKnownOnes() {
        MergeException e = assertThrows(MergeException.class, () -> MergeMethods.byName("tie"));
        assertTrue(e.getMessage().startsWith("merge_method: unknown method \"tie\" (known: linear, task_arithmetic, ties"),
                e.getMessage());
        assertEquals(17, MergeMethods.names().size());
    }

    @Test
    void parameterValuesAreChecked() {
        MergeException e = assertThrows(MergeException.class, () -> Merges.merge(MergeMethods.byName("ties"),
                List.of(input("a", one(1), Map.of("weight", 1.0, "density", 1.5))), one(0), Map.of(), null));
        assertEquals("models[0] (a): parameters.density: 1.5 is outside [0, 1]", e.getMessage());
        e = assertThrows(MergeException.class, () -> Merges.merge(MergeMethods.byName("ties"),
                List.of(input("a", one(1), Map.of("weight", "heavy"))), one(0), Map.of(), null));
        assertEquals("models[0] (a): parameters.weight: expected a finite number, got \"heavy\"", e.getMessage());
        e = assertThrows(MergeException.class, () -> Merges.merge(MergeMethods.byName("ties"),
                List.of(input("a", one(1), Map.of())), one(0), Map.of(), null));
        assertEquals("models[0] (a): parameters.weight: required by ties", e.getMessage());
        e = assertThrows(MergeException.class, () -> Merges.merge(MergeMethods.byName("dare_ties"),
                List.of(input("a", one(1), Map.of("weight", 1.0))), one(0), Map.of("seed", 1.5), null));
        assertEquals("parameters.seed: expected an integer, got 1.5", e.getMessage());
    }

    @Test
    void topLevelParametersAreDefaultsForEveryModel() {
        TensorMap base = one(0, 0, 0, 0);
        List<MergeJob.Input> in = List.of(input("a", one(4, -3, 2, 1), Map.of()),
                input("b", one(4, -3, 2, 1), Map.of("density", 1.0)));
        float[] out = Merges.merge(MergeMethods.byName("ties"), in, base, Map.of("weight", 1.0, "density", 0.5), null)
                .get("w").toFloatArray();
        // a keeps {4, -3}; b keeps everything; normalized by the agreeing weights.
        assertArrayEquals(new float[] {4, -3, 2, 1}, out, 0f);
        TensorMap half = Merges.merge(MergeMethods.byName("ties"), in, base, Map.of("weight", 1.0, "density", 0.5),
                DType.BF16);
        assertEquals(DType.BF16, half.get("w").dtype());
    }
}
