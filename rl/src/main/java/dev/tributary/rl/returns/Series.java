package dev.tributary.rl.returns;

/** Input checks shared by the estimators: one length for every per-step series, finite values. */
final class Series {
    private Series() {}

    static int length(String what, double[] series) {
        finite(what, series);
        if (series.length == 0) {
            throw new IllegalArgumentException(what + ": empty");
        }
        return series.length;
    }

    static void sameLength(int n, String what, double[] series) {
        if (series.length != n) {
            throw new IllegalArgumentException(what + ": length " + series.length + " != " + n);
        }
        finite(what, series);
    }

    static void sameLength(int n, String what, boolean[] flags) {
        if (flags.length != n) {
            throw new IllegalArgumentException(what + ": length " + flags.length + " != " + n);
        }
    }

    static void finite(String what, double v) {
        if (!Double.isFinite(v)) {
            throw new IllegalArgumentException(what + " is not finite: " + v);
        }
    }

    private static void finite(String what, double[] series) {
        for (int i = 0; i < series.length; i++) {
            if (!Double.isFinite(series[i])) {
                throw new IllegalArgumentException(what + "[" + i + "] is not finite: " + series[i]);
            }
        }
    }

    /** A discount factor or trace parameter in [0, 1]. */
    static void unit(String what, double v) {
        if (!(v >= 0 && v <= 1)) {
            throw new IllegalArgumentException(what + " must be in [0, 1]: " + v);
        }
    }
}
