package dev.tributary.tensor;

import java.util.Arrays;
import java.util.StringJoiner;

/** Small helpers for shapes: overflow-checked element counts and the {@code [a,b,c]} spelling. */
public final class Shapes {
    private Shapes() {}

    /** Product of the dimensions, 1 for a scalar; throws {@link ArithmeticException} on overflow. */
    public static long numel(long... shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension " + d + " in " + toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** {@code [1,2,3]}; {@code []} for a scalar. */
    public static String toString(long... shape) {
        StringJoiner j = new StringJoiner(",", "[", "]");
        for (long d : shape) {
            j.add(Long.toString(d));
        }
        return j.toString();
    }

    public static boolean same(long[] a, long[] b) {
        return Arrays.equals(a, b);
    }
}
