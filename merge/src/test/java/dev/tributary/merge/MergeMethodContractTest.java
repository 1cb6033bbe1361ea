package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The contract every merge method honours: shapes preserved, identities, refusal of non-finite inputs
 * and of unknown parameters, f16/bf16 inputs computed exactly as their f32 values, output dtype casts,
 * integer tensors passed through, results independent of the order tensors are merged in.
 */
class MergeMethodContractTest {
    private static final Map<String, long[]> SHAPES = new LinkedHashMap<>();

    static {
        SHAPES.put("layers.0.weight", new long[] {7, 5});
        SHAPES.put("layers.0.bias", new long[] {3});
        SHAPES.put("scale", new long[] {});
        SHAPES.put("conv", new long[] {2, 3, 4});
    }

    static List<MergeMethod> methods() {
        return MergeMethods.all();
    }

    /** A valid way to call {@code m}: declared defaults, weights summing to 1, density 1, t = 0.5. */
    private record Setup(int models, Map<String, Object> params, List<Map<String, Object>> modelParams) {}

    private static Setup setup(MergeMethod m, int models) {
        Method method = (Method) m;
        Map<String, Object> params = new HashMap<>();
        for (ParamDef d : method.globalDefs()) {
            if (d.required()) {
                params.put(d.name(), 0.5);
            }
        }
        List<Map<String, Object>> perModel = new ArrayList<>();
        for (int i = 0; i < models; i++) {
            Map<String, Object> p = new HashMap<>();
            for (ParamDef d : method.modelDefs()) {
                switch (d.name()) {
                    case "weight" -> p.put("weight", 1.0 / models);
                    case "density" -> p.put("density", 1.0);
                    case "fisher" -> p.put("fisher", model(1f, DType.F32, new SplittableRandom(i), 1));
                    default -> { }
                }
            }
            perModel.add(p);
        }
        return new Setup(models, params, perModel);
    }

    /** Whether a merge with {@code m} sees two inputs that can disagree (passthrough copies one model). */
    private static boolean comparesInputs(MergeMethod m) {
        return count(m) > 1 || m.requiresBase();
    }

    private static int count(MergeMethod m) {
        return m.name().equals("slerp") || m.name().equals("passthrough") ? 1 : 3;
    }

    /** Random model: values ~ offset + spread·U(-1, 1), of {@code dtype}. */
    private static TensorMap model(float offset, DType dtype, SplittableRandom r, float spread) {
        TensorMap t = new TensorMap();
        SHAPES.forEach((name, shape) -> {
            float[] v = new float[(int) dev.tributary.tensor.Shapes.numel(shape)];
            for (int i = 0; i < v.length; i++) {
                v[i] = offset + spread * (float) r.nextDouble(-1, 1);
            }
            t.put(name, Tensor.ofFloats(dtype, shape, v));
        });
        return t;
    }

    private static TensorMap merge(MergeMethod m, List<? extends TensorSource> models, TensorSource base, DType out) {
        Setup s = setup(m, models.size());
        List<MergeJob.Input> inputs = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            inputs.add(new MergeJob.Input("m" + i, models.get(i), s.modelParams().get(i)));
        }
        return Merges.merge(m, inputs, m.requiresBase() ? base : null, s.params(), out);
    }

    private static List<TensorMap> randomModels(int n, DType dtype, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<TensorMap> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(model(0.1f * i, dtype, r, 1f));
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void preservesNamesAndShapes(MergeMethod m) {
        TensorMap base = randomModels(1, DType.F32, 99).getFirst();
        TensorMap out = merge(m, randomModels(count(m), DType.F32, 1), base, null);
        assertEquals(List.copyOf(SHAPES.keySet()), out.names());
        SHAPES.forEach((name, shape) -> {
            assertArrayEquals(shape, out.get(name).shape(), name);
            assertEquals(DType.F32, out.get(name).dtype(), name);
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void identicalInputsGiveThatInput(MergeMethod m) {
        TensorMap x = randomModels(1, DType.F32, 5).getFirst();
        List<TensorMap> same = new ArrayList<>();
        for (int i = 0; i < count(m); i++) {
            same.add(x);
        }
        assertAllClose(x, merge(m, same, x, null), m.name());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void modelsThatAgreeOutvoteTheBase(MergeMethod m) {
        Assumptions.assumeTrue(m.requiresBase() && !m.name().equals("slerp"),
                "only methods with a base and more than one model have this identity");
        TensorMap x = randomModels(1, DType.F32, 5).getFirst();
        TensorMap base = randomModels(1, DType.F32, 6).getFirst();
        assertAllClose(x, merge(m, List.of(x, x, x), base, null), m.name());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void refusesNonFiniteInputsNamingModelAndTensor(MergeMethod m) {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY}) {
            List<TensorMap> models = randomModels(count(m), DType.F32, 3);
            TensorMap poisoned = models.get(models.size() - 1);
            Tensor t = poisoned.get("layers.0.weight").copy(Arena.ofAuto());
            t.setFloat(17, bad);
            poisoned.put("layers.0.weight", t);
            MergeException e = assertThrows(MergeException.class,
                    () -> merge(m, models, randomModels(1, DType.F32, 4).getFirst(), null));
            String name = "m" + (models.size() - 1);
            assertTrue(e.getMessage().contains("model " + name) && e.getMessage().contains("layers.0.weight")
                    && e.getMessage().contains("element 17"), e.getMessage());
        }
        if (m.requiresBase()) {
            TensorMap base = randomModels(1, DType.F32, 4).getFirst();
            Tensor t = base.get("conv").copy(Arena.ofAuto());
            t.setFloat(0, Float.NEGATIVE_INFINITY);
            base.put("conv", t);
            MergeException e = assertThrows(MergeException.class,
                    () -> merge(m, randomModels(count(m), DType.F32, 3), base, null));
            assertTrue(e.getMessage().contains("base model") && e.getMessage().contains("conv"), e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void halfPrecisionInputsMergeAsTheirF32Values(MergeMethod m) {
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            List<TensorMap> half = randomModels(count(m), dt, 8);
            TensorMap halfBase = randomModels(1, dt, 9).getFirst();
            TensorMap out = merge(m, half, halfBase, null);
            TensorMap wide = merge(m, upcast(half), upcast(List.of(halfBase)).getFirst(), null);
            for (String name : SHAPES.keySet()) {
                assertEquals(dt, out.get(name).dtype(), name);
                Tensor expected = wide.get(name).castTo(dt, Arena.ofAuto());
                assertTrue(expected.contentEquals(out.get(name)), m.name() + " " + dt + " " + name);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void castsTheOutputToTheRequestedDtype(MergeMethod m) {
        List<TensorMap> models = randomModels(count(m), DType.F32, 12);
        TensorMap base = randomModels(1, DType.F32, 13).getFirst();
        TensorMap wide = merge(m, models, base, null);
        for (DType dt : new DType[] {DType.BF16, DType.F16, DType.F64}) {
            TensorMap out = merge(m, models, base, dt);
            for (String name : SHAPES.keySet()) {
                assertTrue(wide.get(name).castTo(dt, Arena.ofAuto()).contentEquals(out.get(name)),
                        m.name() + " -> " + dt + " " + name);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void refusesUnknownParametersByName(MergeMethod m) {
        List<TensorMap> models = randomModels(count(m), DType.F32, 1);
        TensorMap base = m.requiresBase() ? models.getFirst() : null;
        Setup s = setup(m, models.size());
        Map<String, Object> params = new HashMap<>(s.params());
        params.put("bogus", 1.0);
        List<MergeJob.Input> inputs = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            inputs.add(new MergeJob.Input("m" + i, models.get(i), s.modelParams().get(i)));
        }
        MergeException top = assertThrows(MergeException.class, () -> Merges.merge(m, inputs, base, params, null));
        assertTrue(top.getMessage().startsWith("parameters.bogus: unknown parameter for " + m.name()), top.getMessage());
        Map<String, Object> bad = new HashMap<>(s.modelParams().getFirst());
        bad.put("densty", 0.5);
        inputs.set(0, new MergeJob.Input("m0", models.getFirst(), bad));
        MergeException own = assertThrows(MergeException.class,
                () -> Merges.merge(m, inputs, base, s.params(), null));
        assertTrue(own.getMessage().startsWith("models[0] (m0): parameters.densty: unknown"), own.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void refusesMismatchedShapesAndMissingTensors(MergeMethod m) {
        assumeTrue(comparesInputs(m), m + " has a single input: nothing to disagree with");
        List<TensorMap> models = randomModels(count(m), DType.F32, 1);
        TensorMap base = randomModels(1, DType.F32, 2).getFirst();
        TensorMap odd = models.getLast();
        odd.put("layers.0.bias", Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4));
        String who = "model m" + (models.size() - 1);
        MergeException e = assertThrows(MergeException.class, () -> merge(m, models, base, null));
        assertTrue(e.getMessage().startsWith(who + ": tensor layers.0.bias: shape [4] != [3]"), e.getMessage());

        List<TensorMap> fewer = randomModels(count(m), DType.F32, 1);
        TensorMap partial = new TensorMap();
        fewer.getLast().asMap().forEach((k, v) -> {
            if (!k.equals("scale")) {
                partial.put(k, v);
            }
        });
        fewer.set(fewer.size() - 1, partial);
        e = assertThrows(MergeException.class, () -> merge(m, fewer, base, null));
        assertTrue(e.getMessage().startsWith(who + ": tensor scale: missing"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void passesIdenticalIntegerTensorsThroughAndRefusesDifferentOnes(MergeMethod m) {
        assumeTrue(comparesInputs(m), m + " has a single input: nothing to disagree with");
        List<TensorMap> models = randomModels(count(m), DType.F32, 1);
        TensorMap base = randomModels(1, DType.F32, 2).getFirst();
        Tensor ids = Tensor.ofFloats(DType.I64, new long[] {4}, 0, 1, 2, 3);
        models.forEach(t -> t.put("position_ids", ids));
        base.put("position_ids", ids);
        TensorMap out = merge(m, models, base, DType.BF16);
        assertTrue(ids.contentEquals(out.get("position_ids")));
        models.getLast().put("position_ids", Tensor.ofFloats(DType.I64, new long[] {4}, 0, 1, 2, 4));
        MergeException e = assertThrows(MergeException.class, () -> merge(m, models, base, null));
        assertTrue(e.getMessage().contains("position_ids") && e.getMessage().contains("not merged"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void resultsDoNotDependOnTensorOrder(MergeMethod m) {
        List<TensorMap> models = randomModels(count(m), DType.F32, 21);
        TensorMap base = randomModels(1, DType.F32, 22).getFirst();
        Setup s = setup(m, models.size());
        List<String> names = new ArrayList<>();
        for (int i = 0; i < models.size(); i++) {
            names.add("m" + i);
        }
        List<String> order = new ArrayList<>(SHAPES.keySet());
        Map<String, Tensor> forward = run(m, s, names, models, base, order);
        Map<String, Tensor> backward = run(m, s, names, models, base, order.reversed());
        for (String name : order) {
            assertTrue(forward.get(name).contentEquals(backward.get(name)), m.name() + " " + name);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void checksTheBaseModelRule(MergeMethod m) {
        Setup s = setup(m, count(m));
        MergeSpec withBase = new MergeSpec(List.of("a", "b", "c").subList(0, s.models()), s.modelParams(), s.params(),
                true);
        MergeSpec without = new MergeSpec(withBase.models(), s.modelParams(), s.params(), false);
        MergeException e = assertThrows(MergeException.class, () -> m.bind(m.requiresBase() ? without : withBase));
        assertTrue(e.getMessage().startsWith("base_model: "), e.getMessage());
        assertFalse(m.bind(m.requiresBase() ? withBase : without).twoPass() && !m.name().contains("krum"));
    }

    private static Map<String, Tensor> run(MergeMethod m, Setup s, List<String> names, List<TensorMap> models,
                                           TensorMap base, List<String> order) {
        TensorMerger merger = m.bind(new MergeSpec(names, s.modelParams(), s.params(), m.requiresBase()));
        if (merger.twoPass()) {
            order.forEach(t -> merger.observe(inputs(m, s, t, models, base)));
        }
        Map<String, Tensor> out = new HashMap<>();
        for (String t : order) {
            out.put(t, merger.merge(inputs(m, s, t, models, base), DType.F32, Arena.ofAuto()));
        }
        return out;
    }

    private static TensorInputs inputs(MergeMethod m, Setup s, String t, List<TensorMap> models, TensorMap base) {
        List<Tensor> ts = models.stream().map(x -> x.get(t)).toList();
        Map<String, List<Tensor>> extra = new HashMap<>();
        for (String key : m.tensorParameters()) {
            extra.put(key, s.modelParams().stream().map(p -> ((TensorSource) p.get(key)).tensor(t)).toList());
        }
        return new TensorInputs(t, ts, m.requiresBase() ? base.get(t) : null, extra);
    }

    private static List<TensorMap> upcast(List<TensorMap> models) {
        List<TensorMap> out = new ArrayList<>();
        for (TensorMap t : models) {
            TensorMap u = new TensorMap();
            t.asMap().forEach((k, v) -> u.put(k, v.toF32(Arena.ofAuto())));
            out.add(u);
        }
        return out;
    }

    private static void assertAllClose(TensorMap expected, TensorMap actual, String what) {
        for (String name : SHAPES.keySet()) {
            float[] e = expected.get(name).toFloatArray();
            float[] a = actual.get(name).toFloatArray();
            for (int i = 0; i < e.length; i++) {
                assertEquals(e[i], a[i], 1e-6 * Math.max(1, Math.abs(e[i])), what + " " + name + "[" + i + "]");
            }
        }
    }
}
