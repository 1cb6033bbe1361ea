package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;

/**
 * Σn and Σn² over the updates a strategy has merged so far, for the examples floor of FedBuff and FedAsync
 * (docs/ASYNC.md): φ·r, with r = Σn²/Σn the examples-weighted mean size of an update. Exported with the
 * strategy's state, so that a replay reaches the same r.
 */
final class ExampleSums {
    private static final String SUM = "examples/sum";
    private static final String SQUARES = "examples/sum_squares";

    private double sum;
    private double squares;

    /** Σn over the merged updates, plus {@code more} (updates held or arriving). */
    double sum(double more) {
        return sum + more;
    }

    /** Σn² over the merged updates, plus {@code more}. */
    double squares(double more) {
        return squares + more;
    }

    /** The sums once the updates counted in them are merged. */
    void merged(double newSum, double newSquares) {
        sum = newSum;
        squares = newSquares;
    }

    /** φ·r for the sums given; NaN when the floor is off (φ = 0) or no update held an example yet. */
    static double floor(double phi, double sum, double squares) {
        return phi > 0 && sum > 0 && squares > 0 ? phi * squares / sum : Double.NaN;
    }

    void write(TensorMap state) {
        state.putMetadata(SUM, Double.toString(sum)).putMetadata(SQUARES, Double.toString(squares));
    }

    /** @throws IllegalArgumentException naming the strategy when a sum is not a number */
    void read(TensorMap state, String strategy) {
        String s = state.metadata().get(SUM);
        String q = state.metadata().get(SQUARES);
        try {
            // A state written before the examples floor existed starts its sums afresh.
            double newSum = s == null ? 0 : Double.parseDouble(s);
            double newSquares = q == null ? 0 : Double.parseDouble(q);
            merged(newSum, newSquares);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(strategy + " state: examples sums \"" + s + "\", \"" + q + "\" are not numbers");
        }
    }
}
