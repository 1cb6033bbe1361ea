package dev.tributary.train.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.LabeledImages;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * Accuracy and mean cross-entropy of weights on a fixed labelled set (for Fashion-MNIST the 10,000 test
 * images), computed in batches with autograd off. The images are converted once, when the evaluator is
 * built; f32 weights are read in place, without a copy.
 */
public final class Evaluator implements AutoCloseable {
    private final Architecture architecture;
    private final int batchSize;
    private final NDManager manager;
    private final ImageTensors data;

    public Evaluator(Architecture architecture, LabeledImages images, Standardization inputs, int batchSize) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batch size must be > 0: " + batchSize);
        }
        if (images.size() == 0) {
            throw new IllegalArgumentException("an evaluation set needs at least one example, got 0");
        }
        this.architecture = architecture;
        this.batchSize = batchSize;
        this.manager = TorchRuntime.engine().newBaseManager();
        try {
            this.data = ImageTensors.load(manager, images, inputs, architecture.inputSize());
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** Number of examples evaluated per call. */
    public int examples() {
        return data.size;
    }

    /** Evaluates {@code weights} (checked against the architecture, not modified). */
    public Evaluation evaluate(TensorMap weights) {
        architecture.check(weights);
        boolean gradBefore = TorchRuntime.gradMode(false);
        try (NDManager scratch = manager.newSubManager(); NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            List<NDArray> params = new ArrayList<>();
            for (TensorInfo p : architecture.parameters()) {
                Tensor t = weights.tensor(p.name());
                params.add(WeightBridge.view(scratch, t.dtype() == DType.F32 ? t : t.toF32(Arena.ofAuto())));
            }
            double lossSum = 0;
            long correct = 0;
            for (int start = 0; start < data.size; start += batchSize) {
                String rows = start + ":" + Math.min(start + batchSize, data.size);
                NDArray y = data.labels.get(rows);
                NDArray logits = architecture.forward(params, data.inputs.get(rows));
                lossSum -= logits.logSoftmax(1).gather(y, 1).sum().getFloat();
                correct += logits.argMax(1).toType(DataType.INT64, false).eq(y.squeeze(1)).sum().getLong();
            }
            return new Evaluation(correct / (double) data.size, lossSum / data.size, data.size);
        } finally {
            TorchRuntime.gradMode(gradBefore);
        }
    }

    @Override
    public void close() {
        data.close();
        manager.close();
    }
}
