package dev.tributary.store;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.Random;

/** Small models and deltas for the coordinator's tests. */
public final class TestModels {
    private TestModels() {}

    /** A two-tensor f32 model: {@code w} [4,3] and {@code b} [3], values from {@code seed}. */
    public static TensorMap model(long seed) {
        Random r = new Random(seed);
        return new TensorMap()
                .put("w", Tensor.ofFloats(new long[] {4, 3}, floats(r, 12, 1f)))
                .put("b", Tensor.ofFloats(new long[] {3}, floats(r, 3, 1f)));
    }

    /** A delta that fits {@link #model}, values in [-scale, scale). */
    public static TensorMap delta(long seed, float scale) {
        Random r = new Random(seed);
        return new TensorMap()
                .put("w", Tensor.ofFloats(new long[] {4, 3}, floats(r, 12, scale)))
                .put("b", Tensor.ofFloats(new long[] {3}, floats(r, 3, scale)));
    }

    private static float[] floats(Random r, int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return v;
    }
}
