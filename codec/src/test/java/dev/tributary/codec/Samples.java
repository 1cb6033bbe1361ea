package dev.tributary.codec;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.util.List;
import java.util.SplittableRandom;

/** Small deltas shaped like a model's: matrices, a bias, a scalar, an empty tensor. */
final class Samples {
    private Samples() {}

    /** Every codec the contract suite runs, covering each parameter and composition. */
    static final List<String> SPECS = List.of("f16", "bf16", "int8", "int8:group=7", "int4", "int4:group=5", "fp4", "fp4:group=5", "fp8",
            "topk:fraction=0.1", "topk:fraction=0.1+int8:group=16", "topk:fraction=0.05+bf16",
            "topk:fraction=0.2+int4:group=8", "topk:fraction=0.2+fp4:group=8", "topk:fraction=0.2+fp8", "topk:fraction=1+f16", "lossless",
            "lossless:level=9", "int4+lossless", "int8:group=7+lossless", "fp4:group=5+lossless:level=9", "bf16+lossless",
            "topk:fraction=0.1+int8:group=16+lossless");

    static final List<String> LOSSY = SPECS.stream().filter(s -> !s.startsWith("lossless")).toList();

    /** A delta whose numel is not a multiple of any group size used above, with varied magnitudes. */
    static TensorMap delta(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        TensorMap m = new TensorMap();
        m.put("layers.0.weight", gaussian(r, new long[] {17, 33}, 0.01));
        m.put("layers.0.bias", gaussian(r, new long[] {33}, 1e-4));
        m.put("scalar", gaussian(r, new long[] {}, 3));
        m.put("empty", Tensor.ofFloats(new long[] {0, 4}));
        m.put("layers.1.weight", mixed(r, new long[] {5, 2, 29}));
        return m;
    }

    static Tensor gaussian(SplittableRandom r, long[] shape, double sd) {
        Tensor t = Tensor.ofFloats(shape, new float[(int) dev.tributary.tensor.Shapes.numel(shape)]);
        for (long i = 0; i < t.numel(); i++) {
            t.setFloat(i, (float) (r.nextGaussian() * sd));
        }
        return t;
    }

    /** Magnitudes from 1e-6 to 1e2, exact zeros and repeated values (ties for top-k). */
    static Tensor mixed(SplittableRandom r, long[] shape) {
        Tensor t = gaussian(r, shape, 1);
        for (long i = 0; i < t.numel(); i++) {
            int kind = r.nextInt(10);
            float v = t.getFloat(i) * (float) Math.pow(10, r.nextInt(-6, 3));
            t.setFloat(i, kind == 0 ? 0f : kind == 1 ? 0.5f : kind == 2 ? -0.5f : v);
        }
        return t;
    }

    static TensorMap zeros(TensorMap like) {
        TensorMap m = new TensorMap();
        for (TensorInfo i : like.infos()) {
            m.put(i.name(), Tensor.ofFloats(i.shape(), new float[(int) i.numel()]));
        }
        return m;
    }

    static List<TensorInfo> layout(TensorMap m) {
        return m.infos();
    }
}
