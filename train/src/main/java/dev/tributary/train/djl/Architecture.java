package dev.tributary.train.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A network for flattened images, written as a forward pass over named parameters. Parameter names,
 * shapes and order are those of the equivalent PyTorch module ({@code fc1.weight} is
 * {@code [out, in]}, {@code conv1.weight} {@code [out, in, kh, kw]}), so checkpoints read the same on
 * both sides.
 */
public sealed interface Architecture permits Architecture.Mlp, Architecture.Cnn {

    /** A short name such as {@code mlp-784-200-10}. */
    String name();

    /** Values per input example (pixels of a flattened image). */
    int inputSize();

    /** Number of output classes. */
    int classes();

    /** The parameters (all f32) in PyTorch's {@code named_parameters()} order. */
    List<TensorInfo> parameters();

    /**
     * Logits {@code [B, classes]} for inputs {@code [B, inputSize]}; {@code params} in {@link #parameters()}
     * order.
     */
    NDArray forward(List<NDArray> params, NDArray input);

    /**
     * Weights as PyTorch initializes them by default, seeded: every weight and bias
     * {@code ~ U(−1/√fan_in, 1/√fan_in)}, where fan_in is the weight's input size (times kernel area).
     */
    default TensorMap init(long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Long> fanIns = new HashMap<>();
        TensorMap out = new TensorMap();
        for (TensorInfo p : parameters()) {
            long[] shape = p.shape();
            String layer = p.name().substring(0, p.name().lastIndexOf('.'));
            long fanIn = shape.length > 1 ? Shapes.numel(shape) / shape[0] : fanIns.getOrDefault(layer, shape[0]);
            fanIns.putIfAbsent(layer, fanIn);
            double bound = 1.0 / Math.sqrt(fanIn);
            float[] values = new float[Math.toIntExact(Shapes.numel(shape))];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) ((2 * rng.nextDouble() - 1) * bound);
            }
            Tensor t = Tensor.allocate(DType.F32, shape, Arena.ofAuto());
            MemorySegment.copy(values, 0, t.data(), Tensor.F32_LE, 0, values.length);
            out.put(p.name(), t);
        }
        return out;
    }

    /**
     * Checks that {@code weights} holds exactly this network's parameters with the right shapes and a
     * floating-point dtype.
     *
     * @throws IllegalArgumentException naming the first offending tensor and the rule
     */
    default void check(TensorMap weights) {
        for (TensorInfo p : parameters()) {
            Tensor t = weights.get(p.name());
            if (t == null) {
                throw new IllegalArgumentException(name() + ": missing tensor " + p.name());
            }
            if (!Shapes.same(t.shape(), p.shape())) {
                throw new IllegalArgumentException("tensor " + p.name() + ": shape " + Shapes.toString(t.shape())
                        + " != " + Shapes.toString(p.shape()));
            }
            if (!t.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException("tensor " + p.name() + ": dtype " + t.dtype()
                        + " is not a floating-point type");
            }
        }
        if (weights.size() != parameters().size()) {
            List<String> expected = parameters().stream().map(TensorInfo::name).toList();
            for (String n : weights.names()) {
                if (!expected.contains(n)) {
                    throw new IllegalArgumentException(name() + ": unexpected tensor " + n + " (parameters are "
                            + String.join(", ", expected) + ")");
                }
            }
        }
    }

    /** The Fashion-MNIST MLP of the reference runs: 784-200-10 with ReLU. */
    static Mlp fashionMlp() {
        return new Mlp(784, 200, 10);
    }

    /** A small CNN for 28×28 images: conv 5×5 (16) – pool – conv 5×5 (32) – pool – fc 128 – fc 10. */
    static Cnn fashionCnn() {
        return new Cnn(28, 16, 32, 128, 10);
    }

    /** {@code fc2(relu(fc1(x)))}. */
    record Mlp(int inputSize, int hidden, int classes) implements Architecture {
        public Mlp {
            positive("mlp inputs", inputSize);
            positive("mlp hidden", hidden);
            positive("mlp classes", classes);
        }

        @Override
        public String name() {
            return "mlp-" + inputSize + "-" + hidden + "-" + classes;
        }

        @Override
        public List<TensorInfo> parameters() {
            return List.of(
                    f32("fc1.weight", hidden, inputSize), f32("fc1.bias", hidden),
                    f32("fc2.weight", classes, hidden), f32("fc2.bias", classes));
        }

        @Override
        public NDArray forward(List<NDArray> p, NDArray input) {
            NDArray h = Activation.relu(Linear.linear(input, p.get(0), p.get(1)).singletonOrThrow());
            return Linear.linear(h, p.get(2), p.get(3)).singletonOrThrow();
        }
    }

    /**
     * Two 5×5 convolutions (padding 2, ReLU, 2×2 max pooling each), then two linear layers:
     * {@code fc2(relu(fc1(flatten(pool(relu(conv2(pool(relu(conv1(x))))))))))}.
     *
     * @param side      image side in pixels, a multiple of 4
     * @param channels1 output channels of conv1
     * @param channels2 output channels of conv2
     * @param hidden    width of fc1
     * @param classes   outputs of fc2
     */
    record Cnn(int side, int channels1, int channels2, int hidden, int classes) implements Architecture {
        private static final Shape KERNEL = new Shape(5, 5);
        private static final Shape UNIT = new Shape(1, 1);
        private static final Shape PAD = new Shape(2, 2);
        private static final Shape POOL = new Shape(2, 2);
        private static final Shape NO_PAD = new Shape(0, 0);

        public Cnn {
            positive("cnn side", side);
            if (side % 4 != 0) {
                throw new IllegalArgumentException("cnn side must be a multiple of 4: " + side);
            }
            positive("cnn channels1", channels1);
            positive("cnn channels2", channels2);
            positive("cnn hidden", hidden);
            positive("cnn classes", classes);
        }

        @Override
        public String name() {
            return "cnn-" + side + "-" + channels1 + "-" + channels2 + "-" + hidden + "-" + classes;
        }

        @Override
        public int inputSize() {
            return side * side;
        }

        private int flat() {
            return channels2 * (side / 4) * (side / 4);
        }

        @Override
        public List<TensorInfo> parameters() {
            return List.of(
                    f32("conv1.weight", channels1, 1, 5, 5), f32("conv1.bias", channels1),
                    f32("conv2.weight", channels2, channels1, 5, 5), f32("conv2.bias", channels2),
                    f32("fc1.weight", hidden, flat()), f32("fc1.bias", hidden),
                    f32("fc2.weight", classes, hidden), f32("fc2.bias", classes));
        }

        @Override
        public NDArray forward(List<NDArray> p, NDArray input) {
            NDArray x = input.reshape(-1, 1, side, side);
            x = block(x, p.get(0), p.get(1));
            x = block(x, p.get(2), p.get(3));
            x = x.reshape(-1, flat());
            x = Activation.relu(Linear.linear(x, p.get(4), p.get(5)).singletonOrThrow());
            return Linear.linear(x, p.get(6), p.get(7)).singletonOrThrow();
        }

        private static NDArray block(NDArray x, NDArray w, NDArray b) {
            NDArray c = Conv2d.conv2d(x, w, b, UNIT, PAD, UNIT, 1).singletonOrThrow();
            return Pool.maxPool2d(Activation.relu(c), POOL, POOL, NO_PAD, false);
        }
    }

    private static TensorInfo f32(String name, long... shape) {
        return new TensorInfo(name, DType.F32, shape);
    }

    private static void positive(String what, int v) {
        if (v <= 0) {
            throw new IllegalArgumentException(what + " must be > 0: " + v);
        }
    }
}
