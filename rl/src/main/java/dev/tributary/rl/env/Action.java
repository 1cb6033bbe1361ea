package dev.tributary.rl.env;

import java.util.Arrays;

/** One action: an index into a {@link Space.Discrete} or a vector in a {@link Space.Box}. */
public sealed interface Action permits Action.Discrete, Action.Continuous {

    /** A discrete action. */
    static Action of(int index) {
        return new Discrete(index);
    }

    /** A continuous action; the values are copied. */
    static Action of(float... values) {
        return new Continuous(values);
    }

    /** The action as floats: {@code [index]} for a discrete action, the values else. */
    float[] toFloats();

    /** The index of a discrete action. */
    record Discrete(int index) implements Action {
        @Override
        public float[] toFloats() {
            return new float[] {index};
        }
    }

    /** A continuous action (the values are copied in and out). */
    record Continuous(float[] values) implements Action {
        public Continuous {
            values = values.clone();
        }

        @Override
        public float[] values() {
            return values.clone();
        }

        /** Element {@code i}, without copying. */
        public float value(int i) {
            return values[i];
        }

        @Override
        public float[] toFloats() {
            return values.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Continuous c && Arrays.equals(values, c.values);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "Continuous" + Arrays.toString(values);
        }
    }
}
