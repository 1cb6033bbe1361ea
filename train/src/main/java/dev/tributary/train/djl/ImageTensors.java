package dev.tributary.train.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.tributary.train.data.LabeledImages;
import java.nio.ByteBuffer;

/**
 * A labelled image set resident in PyTorch: standardized f32 inputs {@code [N, rows·cols]} and int64
 * labels {@code [N, 1]}, converted once so that a step only gathers its rows.
 */
final class ImageTensors {
    final NDArray inputs;
    final NDArray labels;
    final int size;

    private ImageTensors(NDArray inputs, NDArray labels, int size) {
        this.inputs = inputs;
        this.labels = labels;
        this.size = size;
    }

    static ImageTensors load(NDManager manager, LabeledImages data, Standardization s, int inputSize) {
        if (data.imageSize() != inputSize) {
            throw new IllegalArgumentException("images of " + data.rows() + "x" + data.cols() + " = "
                    + data.imageSize() + " pixels do not fit a network of " + inputSize + " inputs");
        }
        int n = data.size();
        NDArray inputs;
        try (NDArray pixels = manager.create(ByteBuffer.wrap(data.pixels()), new Shape(n, inputSize), DataType.UINT8)) {
            inputs = pixels.toType(DataType.FLOAT32, true).divi(255f).subi(s.mean()).divi(s.std());
        }
        NDArray labels;
        try (NDArray raw = manager.create(ByteBuffer.wrap(data.labels()), new Shape(n, 1), DataType.UINT8)) {
            labels = raw.toType(DataType.INT64, true);
        }
        return new ImageTensors(inputs, labels, n);
    }

    void close() {
        inputs.close();
        labels.close();
    }
}
