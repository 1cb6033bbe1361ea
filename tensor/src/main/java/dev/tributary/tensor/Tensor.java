package dev.tributary.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A dense tensor whose bytes live off-heap in a {@link MemorySegment}: little-endian, row-major, in the
 * layout safetensors stores. A tensor read from a file is a view of the memory-mapped file; nothing is
 * copied until asked. Sizes are {@code long} throughout: no 2 GiB limit.
 *
 * <p>Element access by index converts to and from f32 ({@link #getFloat}, {@link #setFloat}) with
 * round-to-nearest-even; bulk conversion is in {@link Conversions}, arithmetic in {@link Kernels}.
 */
public final class Tensor {
    /** Unaligned little-endian layouts used to read tensor bytes. */
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfInt I32_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final DType dtype;
    private final long[] shape;
    private final long numel;
    private final MemorySegment data;

    private Tensor(DType dtype, long[] shape, MemorySegment data) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = Shapes.numel(this.shape);
        long expected = dtype.byteSize(numel);
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor of " + dtype + " " + Shapes.toString(shape) + " needs "
                    + expected + " bytes, got " + data.byteSize());
        }
        this.data = data;
    }

    /** A tensor over existing bytes (not copied); the segment's size must equal the tensor's byte size. */
    public static Tensor of(DType dtype, long[] shape, MemorySegment data) {
        return new Tensor(dtype, shape, data);
    }

    /** A zero-filled tensor allocated in {@code arena}. */
    public static Tensor allocate(DType dtype, long[] shape, Arena arena) {
        long bytes = dtype.byteSize(Shapes.numel(shape));
        return new Tensor(dtype, shape, arena.allocate(Math.max(bytes, 0), 64).asSlice(0, bytes));
    }

    /** An f32 tensor holding {@code values}, in automatically managed memory. Handy in tests. */
    public static Tensor ofFloats(long[] shape, float... values) {
        Tensor t = allocate(DType.F32, shape, Arena.ofAuto());
        if (values.length != t.numel) {
            throw new IllegalArgumentException("shape " + Shapes.toString(shape) + " holds " + t.numel
                    + " values, got " + values.length);
        }
        MemorySegment.copy(values, 0, t.data, F32_LE, 0, values.length);
        return t;
    }

    /** A tensor of {@code dtype} holding {@code values} rounded to it, in automatically managed memory. */
    public static Tensor ofFloats(DType dtype, long[] shape, float... values) {
        return ofFloats(shape, values).castTo(dtype, Arena.ofAuto());
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        return numel;
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** The raw little-endian bytes (a view, not a copy). */
    public MemorySegment data() {
        return data;
    }

    public TensorInfo info(String name) {
        return new TensorInfo(name, dtype, shape);
    }

    /** Element {@code i} (row-major) as f32. */
    public float getFloat(long i) {
        return Conversions.getFloat(dtype, data, i);
    }

    /** Sets element {@code i} from f32, rounding to nearest even. */
    public void setFloat(long i, float v) {
        Conversions.setFloat(dtype, data, i, v);
    }

    /** This tensor converted to f32 in {@code arena} (a copy even when already f32). */
    public Tensor toF32(Arena arena) {
        return castTo(DType.F32, arena);
    }

    /** This tensor converted to {@code target} in {@code arena}, rounding to nearest even. */
    public Tensor castTo(DType target, Arena arena) {
        Tensor out = allocate(target, shape, arena);
        Conversions.convert(this, out);
        return out;
    }

    /** All elements as a heap f32 array; only for tensors under 2^31 elements (tests, small models). */
    public float[] toFloatArray() {
        if (numel > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("tensor of " + numel + " elements does not fit a Java array");
        }
        float[] out = new float[(int) numel];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32_LE, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    /** A copy of this tensor in {@code arena}, same dtype and shape. */
    public Tensor copy(Arena arena) {
        Tensor out = allocate(dtype, shape, arena);
        MemorySegment.copy(data, 0, out.data, 0, data.byteSize());
        return out;
    }

    /** True when dtype, shape and bytes are all equal. */
    public boolean contentEquals(Tensor o) {
        return dtype == o.dtype && Shapes.same(shape, o.shape) && data.mismatch(o.data) == -1;
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Shapes.toString(shape) + "]";
    }
}
