package dev.tributary.train.synthetic;

import java.util.SplittableRandom;

/**
 * Points x ~ N(0, I) labelled 1 with probability σ(w*·x + b*), where w* and b* come from
 * {@link SyntheticLogReg#DATA_SEED} and the points from {@code seed}.
 */
record SyntheticData(float[][] x, float[] y) {

    static SyntheticData generate(long seed, int n) {
        SplittableRandom truth = new SplittableRandom(SyntheticLogReg.DATA_SEED);
        double[] w = new double[SyntheticLogReg.FEATURES];
        for (int j = 0; j < w.length; j++) {
            w[j] = truth.nextDouble(-2, 2);
        }
        double b = truth.nextDouble(-0.5, 0.5);
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[n][SyntheticLogReg.FEATURES];
        float[] y = new float[n];
        for (int i = 0; i < n; i++) {
            double z = b;
            for (int j = 0; j < w.length; j++) {
                x[i][j] = (float) gaussian(r);
                z += w[j] * x[i][j];
            }
            y[i] = r.nextDouble() < 1 / (1 + Math.exp(-z)) ? 1f : 0f;
        }
        return new SyntheticData(x, y);
    }

    int size() {
        return y.length;
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
