package dev.tributary.train.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.LabeledImages;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Five steps of DJL training against the same five steps in PyTorch from Python (fixtures made by
 * {@code src/test/python/make_reference.py}): every batch is the whole 16-image set, so the shuffled order
 * cannot matter and the trained weights must agree up to float rounding.
 */
class DjlReferenceTest {
    private static final int STEPS = 5;
    /** Measured differences are below 1e-7. */
    private static final double TOLERANCE = 1e-6;

    static Stream<Arguments> cases() {
        OptimizerConfig sgd = new OptimizerConfig.Sgd(0.05f, 0.9f, 1e-3f);
        OptimizerConfig adamw = new OptimizerConfig.AdamW(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f);
        Architecture mlp = new Architecture.Mlp(784, 8, 10);
        Architecture cnn = new Architecture.Cnn(28, 2, 4, 8, 10);
        return Stream.of(
                Arguments.of("mlp-sgd", mlp, sgd),
                Arguments.of("mlp-adamw", mlp, adamw),
                Arguments.of("cnn-sgd", cnn, sgd),
                Arguments.of("cnn-adamw", cnn, adamw));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesPyTorch(String name, Architecture arch, OptimizerConfig opt) throws IOException {
        byte[] inputs = resource("inputs.u8");
        int n = 16;
        LabeledImages images = new LabeledImages(28, 28, Arrays.copyOf(inputs, n * 784),
                Arrays.copyOfRange(inputs, n * 784, n * 784 + n));
        FloatBuffer floats = ByteBuffer.wrap(resource(name + ".f32")).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        TensorMap initial = read(arch, floats);
        TensorMap expected = read(arch, floats);
        assertEquals(0, floats.remaining(), "fixture size");

        TrainerConfig config = new TrainerConfig(arch, opt, n, Standardization.FASHION_MNIST);
        try (DjlTrainer trainer = new DjlTrainer(config, images)) {
            TrainResult r = trainer.train(initial, TrainPlan.steps(STEPS, 42));
            double worst = 0;
            String where = "";
            for (TensorInfo p : arch.parameters()) {
                float[] w0 = initial.tensor(p.name()).toFloatArray();
                float[] d = r.delta().tensor(p.name()).toFloatArray();
                float[] want = expected.tensor(p.name()).toFloatArray();
                for (int i = 0; i < w0.length; i++) {
                    double err = Math.abs(w0[i] + d[i] - want[i]);
                    if (err > worst) {
                        worst = err;
                        where = p.name() + "[" + i + "]";
                    }
                }
            }
            assertTrue(worst <= TOLERANCE, name + ": worst difference " + worst + " at " + where);
        }
    }

    private static TensorMap read(Architecture arch, FloatBuffer floats) {
        TensorMap out = new TensorMap();
        for (TensorInfo p : arch.parameters()) {
            float[] v = new float[Math.toIntExact(p.numel())];
            floats.get(v);
            out.put(p.name(), Tensor.ofFloats(p.shape(), v));
        }
        return out;
    }

    private static byte[] resource(String file) throws IOException {
        try (InputStream in = DjlReferenceTest.class.getResourceAsStream("reference/" + file)) {
            if (in == null) {
                throw new IOException("missing test resource reference/" + file);
            }
            return in.readAllBytes();
        }
    }
}
