package dev.tributary.tensor;

import java.util.Arrays;

/**
 * A tensor's name, element type and shape, without its data.
 *
 * @param name  the tensor's name in its checkpoint
 * @param dtype element type
 * @param shape dimensions, outermost first; empty for a scalar
 */
public record TensorInfo(String name, DType dtype, long[] shape) {

    public TensorInfo {
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor " + name + ": negative dimension " + d);
            }
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Product of the dimensions (1 for a scalar); throws {@link ArithmeticException} on overflow. */
    public long numel() {
        return Shapes.numel(shape);
    }

    /** Bytes the data occupies. */
    public long byteSize() {
        return dtype.byteSize(numel());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.dtype == dtype && Arrays.equals(t.shape, shape);
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + " " + Shapes.toString(shape);
    }
}
