package dev.tributary.sim;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Draws each client's speed (training examples per virtual second). Raw draws are rescaled in log space
 * so that the fastest client is exactly {@code spread} times the slowest and the median client runs at
 * the configured median: with a handful of clients a plain lognormal draw would give any ratio at all.
 */
final class ClientSpeeds {
    private ClientSpeeds() {}

    static double[] draw(SimConfig.Speeds s, int clients, long seed) {
        double[] speeds = new double[clients];
        if (s.distribution().equals("constant") || clients == 1 || s.spread() == 1) {
            Arrays.fill(speeds, s.median());
            return speeds;
        }
        SplittableRandom r = new SplittableRandom(Seeds.mix(seed, Seeds.SPEEDS));
        double[] x = new double[clients];
        for (int i = 0; i < clients; i++) {
            x[i] = switch (s.distribution()) {
                case "lognormal" -> gaussian(r);
                case "loguniform" -> r.nextDouble();
                default -> throw new IllegalArgumentException("speeds.distribution \"" + s.distribution()
                        + "\": expected lognormal, loguniform or constant");
            };
        }
        double[] sorted = x.clone();
        Arrays.sort(sorted);
        double lo = sorted[0];
        double hi = sorted[clients - 1];
        double mid = clients % 2 == 1 ? sorted[clients / 2] : (sorted[clients / 2 - 1] + sorted[clients / 2]) / 2;
        if (hi == lo) {
            Arrays.fill(speeds, s.median());
            return speeds;
        }
        double scale = Math.log(s.spread()) / (hi - lo);
        for (int i = 0; i < clients; i++) {
            speeds[i] = s.median() * Math.exp((x[i] - mid) * scale);
        }
        return speeds;
    }

    /** A standard normal draw (Box–Muller), so the numbers depend only on the seed, not on the JDK. */
    static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
