package dev.tributary.train.djl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ArchitectureTest {

    @Test
    void parameterNamesAndShapesFollowPyTorch() {
        assertEquals(List.of(
                        new TensorInfo("fc1.weight", DType.F32, new long[] {200, 784}),
                        new TensorInfo("fc1.bias", DType.F32, new long[] {200}),
                        new TensorInfo("fc2.weight", DType.F32, new long[] {10, 200}),
                        new TensorInfo("fc2.bias", DType.F32, new long[] {10})),
                Architecture.fashionMlp().parameters());
        List<TensorInfo> cnn = Architecture.fashionCnn().parameters();
        assertEquals(List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
                "fc2.weight", "fc2.bias"), cnn.stream().map(TensorInfo::name).toList());
        assertArrayEquals(new long[] {32, 16, 5, 5}, cnn.get(2).shape());
        assertArrayEquals(new long[] {128, 32 * 7 * 7}, cnn.get(4).shape());
    }

    @Test
    void initIsSeededAndWithinPyTorchBounds() {
        for (Architecture arch : List.of(Architecture.fashionMlp(), Architecture.fashionCnn())) {
            TensorMap a = arch.init(5);
            assertEquals(arch.parameters().size(), a.size());
            for (TensorInfo p : arch.parameters()) {
                Tensor t = a.tensor(p.name());
                assertTrue(t.contentEquals(arch.init(5).tensor(p.name())), p.name());
                assertFalse(t.contentEquals(arch.init(6).tensor(p.name())), p.name());
                // fan_in of a layer is the weight's elements per output unit; the bias shares it.
                long[] weightShape = arch.parameters().stream()
                        .filter(q -> q.name().equals(p.name().replace(".bias", ".weight")))
                        .findFirst().orElseThrow().shape();
                double bound = 1 / Math.sqrt(Shapes.numel(weightShape) / weightShape[0]);
                float max = 0;
                for (float v : t.toFloatArray()) {
                    max = Math.max(max, Math.abs(v));
                }
                assertTrue(max <= bound, p.name() + ": max |w| " + max + " > bound " + bound);
                if (p.numel() >= 100) {
                    assertTrue(max > 0.9 * bound, p.name() + ": max |w| " + max + " far below bound " + bound);
                }
            }
        }
    }

    @Test
    void forwardGivesOneLogitPerClass() {
        for (Architecture arch : List.of(Architecture.fashionMlp(), Architecture.fashionCnn())) {
            TensorMap w = arch.init(1);
            try (NDManager m = TorchRuntime.engine().newBaseManager()) {
                List<NDArray> params = new ArrayList<>();
                for (TensorInfo p : arch.parameters()) {
                    params.add(WeightBridge.copyIn(m, w.tensor(p.name())));
                }
                NDArray logits = arch.forward(params, m.randomNormal(new Shape(3, 784)));
                assertEquals(new Shape(3, 10), logits.getShape(), arch.name());
            }
        }
    }

    @Test
    void checkNamesTheBadTensor() {
        Architecture mlp = new Architecture.Mlp(4, 3, 2);
        TensorMap w = mlp.init(0);
        mlp.check(w);
        w.put("fc1.weight", Tensor.ofFloats(new long[] {4, 3}, new float[12]));
        assertEquals("tensor fc1.weight: shape [4,3] != [3,4]",
                assertThrows(IllegalArgumentException.class, () -> mlp.check(w)).getMessage());
        w.put("fc1.weight", Tensor.allocate(DType.I32, new long[] {3, 4}, Arena.ofAuto()));
        assertEquals("tensor fc1.weight: dtype I32 is not a floating-point type",
                assertThrows(IllegalArgumentException.class, () -> mlp.check(w)).getMessage());
    }

    @Test
    void invalidShapesAreRefused() {
        assertEquals("cnn side must be a multiple of 4: 30",
                assertThrows(IllegalArgumentException.class, () -> new Architecture.Cnn(30, 1, 1, 1, 1)).getMessage());
        assertEquals("mlp hidden must be > 0: 0",
                assertThrows(IllegalArgumentException.class, () -> new Architecture.Mlp(4, 0, 2)).getMessage());
    }
}
