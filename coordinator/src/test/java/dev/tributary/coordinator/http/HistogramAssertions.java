package dev.tributary.coordinator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checks a cumulative Prometheus histogram in a scrape against the observations that made it. */
public final class HistogramAssertions {
    private HistogramAssertions() {}

    /**
     * Histogram {@code name} in {@code text} is a {@code histogram} family with {@code count}, {@code sum}
     * and {@code max} as given, at least 8 cumulative buckets whose {@code +Inf} bucket equals the count,
     * the max inside the lowest bucket that holds every observation, and the sum at most count × max.
     */
    public static void checkHistogram(PrometheusText text, String name, long count, double sum, double max) {
        PrometheusText.Family f = text.families().get(name);
        assertEquals("histogram", f.type(), name);
        assertEquals(count, text.value(name + "_count", -1), 1e-9, name);
        assertEquals(sum, text.value(name + "_sum", -1), 1e-9, name);
        assertEquals(max, text.value(name + "_max", -1), 1e-9, name);
        double previous = 0;
        double lowestFull = Double.POSITIVE_INFINITY;
        double highestShort = Double.NEGATIVE_INFINITY;
        int buckets = 0;
        for (PrometheusText.Sample s : f.samples()) {
            if (!s.name().equals(name + "_bucket")) {
                continue;
            }
            buckets++;
            String le = s.labels().get("le");
            double bound = le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
            assertTrue(s.value() >= previous, name + ": bucket le=" + le + " below the one before");
            previous = s.value();
            if (s.value() == count) {
                lowestFull = Math.min(lowestFull, bound);
            } else {
                highestShort = Math.max(highestShort, bound);
            }
        }
        assertTrue(buckets >= 8, name + ": " + buckets + " buckets");
        assertEquals(count, previous, name + ": +Inf bucket");
        assertTrue(max <= lowestFull && max > highestShort, name + ": max " + max + " outside (" + highestShort + ", "
                + lowestFull + "]");
        assertTrue(sum <= count * max + 1e-9, name + ": sum above count × max");
    }
}
