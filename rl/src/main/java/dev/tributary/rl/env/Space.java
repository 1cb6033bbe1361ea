package dev.tributary.rl.env;

import java.util.Arrays;

/**
 * The set of valid observations or actions of an {@link Environment}: a finite set of indices or a box of
 * real vectors, as in Gymnasium's {@code Discrete} and {@code Box}.
 */
public sealed interface Space permits Space.Discrete, Space.Box {

    /** Number of values a policy produces or consumes for one element: 1 for discrete, the box size else. */
    int size();

    /**
     * Checks that {@code action} belongs to this space.
     *
     * @throws IllegalArgumentException naming the broken rule
     */
    void check(Action action);

    /** The indices {@code 0 … n−1}. */
    record Discrete(int n) implements Space {
        public Discrete {
            if (n <= 0) {
                throw new IllegalArgumentException("discrete space: n <= 0: " + n);
            }
        }

        @Override
        public int size() {
            return 1;
        }

        @Override
        public void check(Action action) {
            if (!(action instanceof Action.Discrete(int index))) {
                throw new IllegalArgumentException("action " + action + " is not discrete (space " + this + ")");
            }
            if (index < 0 || index >= n) {
                throw new IllegalArgumentException("action " + index + " outside [0, " + n + ")");
            }
        }
    }

    /**
     * Real vectors of the given shape with each element in {@code [low[i], high[i]]} (bounds may be infinite).
     * For an action space the bounds are the documented range; an environment may clip actions beyond them
     * (Pendulum does) rather than refuse them, so {@link #check} refuses only wrong lengths and non-finite
     * values.
     */
    record Box(float[] low, float[] high, int[] shape) implements Space {
        public Box {
            low = low.clone();
            high = high.clone();
            shape = shape.clone();
            long n = 1;
            for (int d : shape) {
                if (d <= 0) {
                    throw new IllegalArgumentException("box shape " + Arrays.toString(shape) + ": dimension <= 0");
                }
                n = Math.multiplyExact(n, d);
            }
            if (low.length != n || high.length != n) {
                throw new IllegalArgumentException("box of shape " + Arrays.toString(shape) + ": " + low.length
                        + " low and " + high.length + " high bounds, expected " + n);
            }
            for (int i = 0; i < low.length; i++) {
                if (Float.isNaN(low[i]) || Float.isNaN(high[i]) || low[i] > high[i]) {
                    throw new IllegalArgumentException("box bound " + i + ": low " + low[i] + " > high " + high[i]);
                }
            }
        }

        /** A one-dimensional box with the same bounds for every element. */
        public static Box of(int n, float low, float high) {
            float[] lo = new float[n];
            float[] hi = new float[n];
            Arrays.fill(lo, low);
            Arrays.fill(hi, high);
            return new Box(lo, hi, new int[] {n});
        }

        @Override
        public float[] low() {
            return low.clone();
        }

        @Override
        public float[] high() {
            return high.clone();
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        @Override
        public int size() {
            return low.length;
        }

        /** Whether {@code x} has this box's size and every element lies within the bounds. */
        public boolean contains(float[] x) {
            if (x.length != low.length) {
                return false;
            }
            for (int i = 0; i < x.length; i++) {
                if (!(x[i] >= low[i] && x[i] <= high[i])) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public void check(Action action) {
            if (!(action instanceof Action.Continuous c)) {
                throw new IllegalArgumentException("action " + action + " is not continuous (space " + this + ")");
            }
            float[] v = c.values();
            if (v.length != low.length) {
                throw new IllegalArgumentException("action of length " + v.length + " != " + low.length);
            }
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    throw new IllegalArgumentException("action element " + i + " is not finite: " + v[i]);
                }
            }
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Box b && Arrays.equals(low, b.low) && Arrays.equals(high, b.high)
                    && Arrays.equals(shape, b.shape);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * Arrays.hashCode(low) + Arrays.hashCode(high)) + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return "Box" + Arrays.toString(shape) + "[" + Arrays.toString(low) + ", " + Arrays.toString(high) + "]";
        }
    }
}
