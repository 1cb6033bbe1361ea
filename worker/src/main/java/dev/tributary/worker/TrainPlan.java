package dev.tributary.worker;

/**
 * How much local training to do and how.
 *
 * @param steps  inner optimizer steps; 0 means "use {@code epochs}"
 * @param epochs passes over the local data when {@code steps} is 0
 * @param seed   seed for shuffling and any sampling in this call
 */
public record TrainPlan(int steps, int epochs, long seed) {
    public TrainPlan {
        if (steps < 0) {
            throw new IllegalArgumentException("steps < 0: " + steps);
        }
        if (epochs < 0) {
            throw new IllegalArgumentException("epochs < 0: " + epochs);
        }
        if (steps == 0 && epochs == 0) {
            throw new IllegalArgumentException("a plan needs steps > 0 or epochs > 0");
        }
    }

    public static TrainPlan steps(int steps, long seed) {
        return new TrainPlan(steps, 0, seed);
    }

    public static TrainPlan epochs(int epochs, long seed) {
        return new TrainPlan(0, epochs, seed);
    }
}
