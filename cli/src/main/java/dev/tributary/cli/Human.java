package dev.tributary.cli;

import java.util.Locale;

/** Human-readable sizes and durations for terminal output. */
final class Human {
    private Human() {}

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String seconds(double s) {
        if (s < 60) {
            return String.format(Locale.ROOT, "%.1fs", s);
        }
        long m = (long) (s / 60);
        return String.format(Locale.ROOT, "%dm%02ds", m, (long) (s - m * 60));
    }
}
