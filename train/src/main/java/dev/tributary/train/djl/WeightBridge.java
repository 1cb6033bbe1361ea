package dev.tributary.train.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Moves f32 tensors between the tensor core and PyTorch as whole buffers: no per-element Java loop.
 * Both sides are little-endian and row-major, so the bytes are the same.
 */
final class WeightBridge {
    private WeightBridge() {}

    /**
     * An NDArray over the bytes of {@code t} (f32), without copying where the tensor lives off-heap: it
     * must only be read, and must not outlive the tensor's memory.
     */
    static NDArray view(NDManager manager, Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("tensor " + t + ": dtype " + t.dtype() + " != F32");
        }
        ByteBuffer bytes = t.data().asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        return manager.create(bytes, new Shape(t.shape()), DataType.FLOAT32);
    }

    /** An NDArray holding a copy of {@code t} (f32), owned by {@code manager}. */
    static NDArray copyIn(NDManager manager, Tensor t) {
        try (NDArray alias = view(manager, t)) {
            return alias.duplicate();
        }
    }

    /** A copy of {@code a} (float32, on the CPU) as a tensor in {@code arena}. */
    static Tensor copyOut(NDArray a, Arena arena) {
        if (a.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException("ndarray " + a.getName() + ": data type " + a.getDataType()
                    + " != float32");
        }
        long[] shape = a.getShape().getShape();
        Tensor out = Tensor.allocate(DType.F32, shape, arena);
        ByteBuffer bytes = a.toByteBuffer();
        if (bytes.remaining() != out.byteSize()) {
            throw new IllegalStateException("ndarray of shape " + Shapes.toString(shape) + " gave "
                    + bytes.remaining() + " bytes, expected " + out.byteSize());
        }
        MemorySegment.copy(MemorySegment.ofBuffer(bytes), 0, out.data(), 0, out.byteSize());
        return out;
    }
}
