package dev.tributary.merge;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorSource;

import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Locates the committed fixtures and compares results with the tolerances the parity tests use. */
public final class Fixtures {
    private Fixtures() {}

    /** The fixture folder, {@code src/test/resources/fixtures} on the test class path. */
    public static Path root() {
        try {
            return Path.of(Fixtures.class.getResource("/fixtures/cases/index.json").toURI()).getParent().getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Asserts two tensors agree: f32 within 1e-6 absolute plus 1e-6 relative; f16 and bf16 within one unit
     * in the last place of the dtype (the two sides may round from slightly different wider values);
     * other dtypes exactly.
     */
    public static void assertClose(Tensor expected, Tensor actual, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        DType dt = expected.dtype();
        if (!dt.isFloatingPoint()) {
            if (!expected.contentEquals(actual)) {
                fail(what + ": " + dt + " values differ");
            }
            return;
        }
        double rel = switch (dt) {
            case F16 -> 0x1.0p-10;
            case BF16 -> 0x1.0p-7;
            default -> 1e-6;
        };
        double abs = dt == DType.F16 ? 0x1.0p-24 : 1e-6;
        for (long i = 0; i < expected.numel(); i++) {
            double e = expected.getFloat(i);
            double a = actual.getFloat(i);
            if (!(Math.abs(a - e) <= abs + rel * Math.abs(e))) {
                fail(what + ": element " + i + ": expected " + e + ", got " + a + " (" + dt + ")");
            }
        }
    }

    /** Asserts every tensor of {@code expected} is in {@code actual}, in the same order, and close. */
    public static void assertSameModel(TensorSource expected, TensorSource actual, String what) {
        assertEquals(expected.names(), actual.names(), what + ": tensor names");
        for (String name : expected.names()) {
            assertClose(expected.tensor(name), actual.tensor(name), what + ": " + name);
        }
    }
}
