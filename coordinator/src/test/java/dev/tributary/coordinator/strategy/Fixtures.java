package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.Map;
import java.util.Random;

/** Small models and updates for strategy tests. */
final class Fixtures {
    private Fixtures() {}

    /** One tensor {@code w} of shape [1]. */
    static TensorMap scalar(double v) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {1}, (float) v));
    }

    static double value(TensorMap m) {
        return m.tensor("w").getFloat(0);
    }

    static Update update(String id, long base, long examples, TensorMap delta) {
        return new Update(id, base, examples, 1, delta, Map.of());
    }

    /** Two tensors, {@code a} [2,3] and {@code b} [3], Gaussian values scaled by {@code scale}. */
    static TensorMap random(Random rnd, double scale) {
        float[] a = new float[6];
        float[] b = new float[3];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (scale * rnd.nextGaussian());
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) (scale * rnd.nextGaussian());
        }
        return new TensorMap().put("a", Tensor.ofFloats(new long[] {2, 3}, a)).put("b", Tensor.ofFloats(new long[] {3}, b));
    }

    /** True when both maps hold the same names with bit-identical tensors. */
    static boolean identical(TensorMap x, TensorMap y) {
        if (!x.names().equals(y.names())) {
            return false;
        }
        for (String n : x.names()) {
            if (!x.tensor(n).contentEquals(y.tensor(n))) {
                return false;
            }
        }
        return true;
    }
}
