package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Fragments.Slice;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class FragmentsTest {
    /** The Fashion-MNIST MLP's layout: the first weight is 98.7% of the elements. */
    private static final List<TensorInfo> MLP = List.of(info("fc1.weight", 200, 784), info("fc1.bias", 200),
            info("fc2.weight", 10, 200), info("fc2.bias", 10));

    private static TensorInfo info(String name, long... shape) {
        return new TensorInfo(name, DType.F32, shape);
    }

    @Test
    void elementsCutTheConcatenationAtFloorKNOverF() {
        List<List<Slice>> f = Fragments.byElements(MLP, 4);
        long total = 159_010;
        assertEquals(List.of(new Slice("fc1.weight", 0, 39_752)), f.get(0));
        assertEquals(List.of(new Slice("fc1.weight", 39_752, 79_505)), f.get(1));
        assertEquals(List.of(new Slice("fc1.weight", 79_505, 119_257)), f.get(2));
        assertEquals(List.of(new Slice("fc1.weight", 119_257, 156_800), new Slice("fc1.bias", 0, 200),
                new Slice("fc2.weight", 0, 2000), new Slice("fc2.bias", 0, 10)), f.get(3));
        for (int k = 0; k < 4; k++) {
            long size = f.get(k).stream().mapToLong(Slice::length).sum();
            assertEquals(total * (k + 1) / 4 - total * k / 4, size, "fragment " + k);
        }
    }

    @Test
    void tensorsKeepTheGroupingByNearestBoundary() {
        // The first weight alone is nearest to half; the rest goes to the second fragment.
        List<List<Slice>> f = Fragments.byTensors(MLP, 2);
        assertEquals(List.of(new Slice("fc1.weight", 0, 156_800)), f.get(0));
        assertEquals(List.of("fc1.bias", "fc2.weight", "fc2.bias"), Fragments.names(f).get(1));
        assertThrows(IllegalArgumentException.class, () -> Fragments.byTensors(MLP, 5));
    }

    @Test
    void resolveRecoversBothCutsFromTheNames() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 200; trial++) {
            List<TensorInfo> model = new ArrayList<>();
            int tensors = 1 + r.nextInt(6);
            for (int i = 0; i < tensors; i++) {
                model.add(info("t" + i, 1 + r.nextInt(50), 1 + r.nextInt(3)));
            }
            long total = model.stream().mapToLong(TensorInfo::numel).sum();
            int count = 1 + r.nextInt((int) Math.min(total, 9));
            List<List<Slice>> byElements = Fragments.byElements(model, count);
            assertEquals(byElements, Fragments.resolve(Fragments.names(byElements), model), model + " in " + count);
            covers(model, byElements);
            if (count <= tensors) {
                List<List<Slice>> byTensors = Fragments.byTensors(model, count);
                assertEquals(byTensors, Fragments.resolve(Fragments.names(byTensors), model));
                covers(model, byTensors);
            }
        }
    }

    /** Every element of every tensor lies in exactly one slice. */
    private static void covers(List<TensorInfo> model, List<List<Slice>> fragments) {
        for (TensorInfo t : model) {
            int[] hits = new int[(int) t.numel()];
            for (List<Slice> f : fragments) {
                assertEquals(f.stream().map(Slice::name).distinct().count(), f.size(), "one slice per tensor");
                for (Slice s : f) {
                    if (s.name().equals(t.name())) {
                        for (long i = s.start(); i < s.end(); i++) {
                            hits[(int) i]++;
                        }
                    }
                }
            }
            for (int h : hits) {
                assertEquals(1, h, t.name());
            }
        }
    }

    @Test
    void resolveRefusesListsThatDescribeNoCut() {
        List<TensorInfo> model = List.of(info("a", 4), info("b", 4));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Fragments.resolve(List.of(List.of("a", "c"), List.of("b")), model)).getMessage().contains("c"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Fragments.resolve(List.of(List.of("a")), model)).getMessage().contains("b: in no fragment"));
        assertThrows(IllegalArgumentException.class,
                () -> Fragments.resolve(List.of(List.of("a"), List.of("b"), List.of("a")), model));
        // 8 elements in 3: [0,2) [2,5) [5,8): b is not in fragment 0's range.
        assertThrows(IllegalArgumentException.class,
                () -> Fragments.resolve(List.of(List.of("a", "b"), List.of("a", "b"), List.of("b")), model));
    }

    @Test
    void cutAndPasteMoveExactlyTheSlicesElements() {
        TensorMap model = new TensorMap().put("a", Tensor.ofFloats(new long[] {2, 3}, 0, 1, 2, 3, 4, 5))
                .put("b", Tensor.ofFloats(new long[] {2}, 6, 7));
        List<List<Slice>> f = Fragments.byElements(model.infos(), 3); // [0,2) [2,5) [5,8)
        TensorMap middle = Fragments.cut(model, f.get(1));
        assertArrayEquals(new long[] {3}, middle.tensor("a").shape());
        assertArrayEquals(new float[] {2, 3, 4}, middle.tensor("a").toFloatArray());
        assertEquals(Fragments.layout(model.infos(), f.get(1)), middle.infos());
        TensorMap last = Fragments.cut(model, f.get(2));
        assertSame(model.tensor("b"), last.tensor("b"), "a whole tensor is not copied");

        TensorMap values = new TensorMap().put("a", Tensor.ofFloats(new long[] {3}, -2, -3, -4));
        TensorMap pasted = Fragments.paste(model, values, f.get(1));
        assertArrayEquals(new float[] {0, 1, -2, -3, -4, 5}, pasted.tensor("a").toFloatArray());
        assertArrayEquals(new long[] {2, 3}, pasted.tensor("a").shape());
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, model.tensor("a").toFloatArray(), "the input stays");
        assertSame(model.tensor("b"), pasted.tensor("b"));
        assertEquals(List.of("a", "b"), pasted.names());
        assertThrows(IllegalArgumentException.class,
                () -> Fragments.paste(model, new TensorMap().put("a", Tensor.ofFloats(new long[] {2}, 1, 2)), f.get(1)));
    }
}
