package dev.tributary.train.djl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class WeightBridgeTest {

    @Test
    void tensorToDjlAndBackIsBitExact() {
        float[] special = {0f, -0f, Float.MIN_VALUE, -Float.MIN_NORMAL, Float.MAX_VALUE, Float.NEGATIVE_INFINITY,
                Float.POSITIVE_INFINITY, Float.intBitsToFloat(0x7fc00123), 1.5e-42f, 3.14159f, -2.5f, 1e30f};
        Tensor t = Tensor.ofFloats(new long[] {3, 4}, special);
        try (NDManager m = TorchRuntime.engine().newBaseManager()) {
            NDArray nd = WeightBridge.copyIn(m, t);
            assertArrayEquals(new long[] {3, 4}, nd.getShape().getShape());
            Tensor back = WeightBridge.copyOut(nd, Arena.ofAuto());
            assertTrue(back.contentEquals(t), "bytes differ after the round trip");
        }
    }

    @Test
    void djlToTensorAndBackIsBitExact() {
        try (NDManager m = TorchRuntime.engine().newBaseManager()) {
            NDArray original = m.randomNormal(0f, 1f, new Shape(200, 784), DataType.FLOAT32);
            Tensor t = WeightBridge.copyOut(original, Arena.ofAuto());
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new long[] {200, 784}, t.shape());
            NDArray back = WeightBridge.copyIn(m, t);
            assertTrue(original.contentEquals(back));
            assertEquals(original.toByteBuffer(), back.toByteBuffer());
        }
    }

    @Test
    void everyParameterOfAModelCrossesBothWays() {
        TensorMap weights = Architecture.fashionCnn().init(3);
        try (NDManager m = TorchRuntime.engine().newBaseManager()) {
            for (String name : weights.names()) {
                Tensor t = weights.tensor(name);
                assertTrue(WeightBridge.copyOut(WeightBridge.copyIn(m, t), Arena.ofAuto()).contentEquals(t), name);
            }
        }
    }

    @Test
    void copyInIsIndependentOfTheTensorButViewIsNot() {
        Tensor t = Tensor.ofFloats(new long[] {4}, 1, 2, 3, 4);
        try (NDManager m = TorchRuntime.engine().newBaseManager()) {
            NDArray copy = WeightBridge.copyIn(m, t);
            NDArray view = WeightBridge.view(m, t);
            t.setFloat(2, 30f);
            assertArrayEquals(new float[] {1, 2, 3, 4}, copy.toFloatArray());
            assertArrayEquals(new float[] {1, 2, 30, 4}, view.toFloatArray());
        }
    }

    @Test
    void onlyF32Crosses() {
        Tensor bf16 = Tensor.ofFloats(DType.BF16, new long[] {2}, 1, 2);
        try (NDManager m = TorchRuntime.engine().newBaseManager()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> WeightBridge.view(m, bf16));
            assertEquals("tensor Tensor[BF16 [2]]: dtype BF16 != F32", e.getMessage());
            NDArray ints = m.create(new int[] {1, 2});
            assertThrows(IllegalArgumentException.class, () -> WeightBridge.copyOut(ints, Arena.ofAuto()));
        }
    }
}
