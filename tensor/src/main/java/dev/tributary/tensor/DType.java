package dev.tributary.tensor;

import java.util.Locale;

/**
 * Element types of the safetensors format, spelled exactly as the format spells them.
 *
 * <p>The common types ({@link #isArithmetic()}) can be read as and written from f32; the rarer ones a
 * file may carry (F8_E8M0, F4, F6_E2M3, F6_E3M2, C64) are read, reported and passed through untouched.
 */
public enum DType {
    BOOL(8, Kind.BOOL),
    U8(8, Kind.UINT),
    I8(8, Kind.INT),
    I16(16, Kind.INT),
    U16(16, Kind.UINT),
    I32(32, Kind.INT),
    U32(32, Kind.UINT),
    I64(64, Kind.INT),
    U64(64, Kind.UINT),
    F16(16, Kind.FLOAT),
    BF16(16, Kind.FLOAT),
    F32(32, Kind.FLOAT),
    F64(64, Kind.FLOAT),
    F8_E4M3(8, Kind.FLOAT),
    F8_E5M2(8, Kind.FLOAT),
    F8_E8M0(8, Kind.OPAQUE),
    F4(4, Kind.OPAQUE),
    F6_E2M3(6, Kind.OPAQUE),
    F6_E3M2(6, Kind.OPAQUE),
    C64(64, Kind.OPAQUE);

    private enum Kind { BOOL, UINT, INT, FLOAT, OPAQUE }

    private final int bits;
    private final Kind kind;

    DType(int bits, Kind kind) {
        this.bits = bits;
        this.kind = kind;
    }

    /** The name in a safetensors header, e.g. {@code "BF16"}. */
    public String safetensorsName() {
        return name();
    }

    /** Bits per element; 4 and 6 for the sub-byte float formats. */
    public int bits() {
        return bits;
    }

    /**
     * Bytes a tensor of {@code numel} elements occupies, rounded up to whole bytes for sub-byte
     * types. Throws {@link ArithmeticException} on overflow.
     */
    public long byteSize(long numel) {
        if (numel < 0) {
            throw new IllegalArgumentException("numel < 0: " + numel);
        }
        return (Math.multiplyExact(numel, (long) bits) + 7) / 8;
    }

    /** True for floating-point types whose values convert to and from f32. */
    public boolean isFloatingPoint() {
        return kind == Kind.FLOAT;
    }

    /** True when values of this type can be read as f32 and written from f32 (every type but the opaque ones). */
    public boolean isArithmetic() {
        return kind != Kind.OPAQUE;
    }

    /**
     * Parses a safetensors dtype name (exact, upper case).
     *
     * @throws IllegalArgumentException naming the unknown value
     */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown dtype " + quoteOrNull(name));
    }

    /**
     * Parses a user-facing dtype name as mergekit and PyTorch spell them: {@code float32},
     * {@code float16}, {@code bfloat16}, {@code float64}, or the safetensors names, any case.
     */
    public static DType fromUserName(String name) {
        if (name == null) {
            throw new IllegalArgumentException("dtype is missing");
        }
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "float32", "f32", "fp32", "float" -> F32;
            case "float16", "f16", "fp16", "half" -> F16;
            case "bfloat16", "bf16" -> BF16;
            case "float64", "f64", "fp64", "double" -> F64;
            default -> {
                try {
                    yield fromSafetensors(name.toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("unknown dtype \"" + name
                            + "\" (expected float32, float16, bfloat16, float64 or a safetensors dtype)");
                }
            }
        };
    }

    private static String quoteOrNull(String s) {
        return s == null ? "null" : "\"" + s + "\"";
    }
}
