package dev.tributary.coordinator.strategy;

/**
 * How much an update that is τ versions stale still counts: FedAsync scales its mixing rate by it,
 * FedBuff its aggregation weight. Configured as {@code staleness: <name>} or
 * {@code staleness: {name: <name>, <parameters>}}.
 */
public sealed interface StalenessFunction {

    /** s(τ) for τ ≥ 0. */
    double weight(long tau);

    /** s(τ) = 1 ({@code constant}). */
    record Constant() implements StalenessFunction {
        @Override
        public double weight(long tau) {
            return 1;
        }
    }

    /**
     * s(τ) = ((1+τ)/(1+avg))^(−a) ({@code polynomial}): Xie et al.'s polynomial with {@code avg_staleness} 0;
     * FLSim divides by the value at an average staleness, and 1/√(1+τ) (FedBuff, FedScale) is a = 0.5.
     */
    record Polynomial(double a, double avgStaleness) implements StalenessFunction {
        public Polynomial {
            if (!(a >= 0) || !Double.isFinite(a)) {
                throw new IllegalArgumentException("polynomial staleness a must be finite and >= 0, got " + a);
            }
            if (!(avgStaleness >= 0) || !Double.isFinite(avgStaleness)) {
                throw new IllegalArgumentException("polynomial avg_staleness must be finite and >= 0, got " + avgStaleness);
            }
        }

        @Override
        public double weight(long tau) {
            return Math.pow((1.0 + tau) / (1.0 + avgStaleness), -a);
        }
    }

    /** s(τ) = 1 for τ ≤ b, else 1/(a(τ−b)+1) ({@code hinge}, Xie et al.). */
    record Hinge(double a, long b) implements StalenessFunction {
        public Hinge {
            if (!(a >= 0) || !Double.isFinite(a)) {
                throw new IllegalArgumentException("hinge staleness a must be finite and >= 0, got " + a);
            }
            if (b < 0) {
                throw new IllegalArgumentException("hinge staleness b must be >= 0, got " + b);
            }
        }

        @Override
        public double weight(long tau) {
            return tau <= b ? 1 : 1 / (a * (tau - b) + 1);
        }
    }
}
