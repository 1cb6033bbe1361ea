package dev.tributary.coordinator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checks on a Prometheus scrape: naming conventions, and histograms against the observations that made them. */
public final class PrometheusAssertions {
    private static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("tributary(_[a-z0-9]+)+");
    private static final java.util.List<String> UNITS = java.util.List.of("bytes", "seconds");

    private PrometheusAssertions() {}

    /**
     * What breaks Prometheus's naming conventions in {@code text}, one line per problem (empty when none): a
     * name not {@code tributary_} in lower snake case, no HELP, a counter without {@code _total} or
     * {@code _total} on another type, a unit ({@code bytes}, {@code seconds}) other than once as the suffix
     * (before {@code _total} or {@code _max}), a family without samples.
     */
    public static java.util.List<String> conventionProblems(PrometheusText text) {
        java.util.List<String> bad = new java.util.ArrayList<>();
        for (PrometheusText.Family f : text.families().values()) {
            String n = f.name();
            if (!NAME.matcher(n).matches()) {
                bad.add(n + ": not tributary_ in lower snake case");
            }
            if (f.help().isBlank()) {
                bad.add(n + ": no HELP");
            }
            if (f.type().equals("counter") != n.endsWith("_total")) {
                bad.add(n + ": " + f.type() + (n.endsWith("_total") ? " ends with _total" : " without _total"));
            }
            java.util.List<String> words = java.util.Arrays.asList(n.split("_"));
            for (String unit : UNITS) {
                long times = words.stream().filter(unit::equals).count();
                int last = words.size() - 1 - (n.endsWith("_total") || n.endsWith("_max") ? 1 : 0);
                if (times > 1 || (times == 1 && words.indexOf(unit) != last)) {
                    bad.add(n + ": unit " + unit + " not once as the suffix");
                }
            }
            if (f.samples().isEmpty()) {
                bad.add(n + ": no samples");
            }
        }
        return bad;
    }

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
