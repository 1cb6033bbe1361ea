package dev.tributary.coordinator.http;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A small reader of the Prometheus text exposition format (version 0.0.4): families with their
 * {@code # TYPE} and {@code # HELP}, and samples with their labels. Enough to check what {@code /metrics}
 * serves and to read values from it; not a general parser (no timestamps, no exemplars).
 */
public final class PrometheusText {
    /** One sample line: {@code name{labels} value}. */
    public record Sample(String name, Map<String, String> labels, double value) {}

    /** A metric family: its name, type ({@code counter}, {@code gauge}, {@code histogram}, …), help and samples. */
    public record Family(String name, String type, String help, List<Sample> samples) {}

    private final Map<String, Family> families;
    private final List<Sample> samples;

    private PrometheusText(Map<String, Family> families, List<Sample> samples) {
        this.families = families;
        this.samples = samples;
    }

    /** Parses {@code text}; a line it cannot read fails with its number and content. */
    public static PrometheusText parse(String text) {
        Map<String, String> types = new LinkedHashMap<>();
        Map<String, String> helps = new LinkedHashMap<>();
        Map<String, List<Sample>> byFamily = new LinkedHashMap<>();
        List<Sample> all = new ArrayList<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i];
            if (line.isBlank()) {
                continue;
            }
            if (line.startsWith("# TYPE ") || line.startsWith("# HELP ")) {
                String[] parts = line.substring(7).split(" ", 2);
                (line.startsWith("# TYPE ") ? types : helps).put(parts[0], parts.length > 1 ? parts[1] : "");
                byFamily.computeIfAbsent(parts[0], k -> new ArrayList<>());
                continue;
            }
            if (line.startsWith("#")) {
                continue;
            }
            Sample s = sample(line, i + 1);
            all.add(s);
            String family = familyOf(s.name(), types);
            byFamily.computeIfAbsent(family, k -> new ArrayList<>()).add(s);
        }
        Map<String, Family> families = new TreeMap<>();
        byFamily.forEach((name, list) -> families.put(name,
                new Family(name, types.getOrDefault(name, "untyped"), helps.getOrDefault(name, ""), List.copyOf(list))));
        return new PrometheusText(families, List.copyOf(all));
    }

    /** The family a sample belongs to: a histogram's {@code _bucket}, {@code _sum}, {@code _count} go to the histogram. */
    private static String familyOf(String sample, Map<String, String> types) {
        if (types.containsKey(sample)) {
            return sample;
        }
        for (String suffix : List.of("_bucket", "_sum", "_count", "_total", "_created")) {
            if (sample.endsWith(suffix)) {
                String base = sample.substring(0, sample.length() - suffix.length());
                if (types.containsKey(base)) {
                    return base;
                }
            }
        }
        return sample;
    }

    private static Sample sample(String line, int number) {
        int brace = line.indexOf('{');
        int space;
        String name;
        Map<String, String> labels = new TreeMap<>();
        if (brace >= 0 && brace < line.indexOf(' ')) {
            name = line.substring(0, brace);
            int at = brace + 1;
            while (line.charAt(at) != '}') {
                int eq = line.indexOf('=', at);
                if (eq < 0 || line.charAt(eq + 1) != '"') {
                    throw new IllegalArgumentException("line " + number + ": bad labels: " + line);
                }
                StringBuilder v = new StringBuilder();
                int j = eq + 2;
                for (; line.charAt(j) != '"'; j++) {
                    char c = line.charAt(j);
                    if (c == '\\') {
                        c = line.charAt(++j);
                        v.append(c == 'n' ? '\n' : c);
                    } else {
                        v.append(c);
                    }
                }
                labels.put(line.substring(at, eq).strip(), v.toString());
                at = j + 1;
                if (line.charAt(at) == ',') {
                    at++;
                }
            }
            space = at + 1;
        } else {
            space = line.indexOf(' ');
            if (space < 0) {
                throw new IllegalArgumentException("line " + number + ": no value: " + line);
            }
            name = line.substring(0, space);
        }
        String[] rest = line.substring(space).strip().split(" ");
        double value = switch (rest[0]) {
            case "+Inf" -> Double.POSITIVE_INFINITY;
            case "-Inf" -> Double.NEGATIVE_INFINITY;
            case "NaN" -> Double.NaN;
            default -> Double.parseDouble(rest[0]);
        };
        return new Sample(name, Map.copyOf(labels), value);
    }

    /** Every family, by name. */
    public Map<String, Family> families() {
        return families;
    }

    /** Every sample, in the order served. */
    public List<Sample> samples() {
        return samples;
    }

    /** The sum of the samples named {@code name} (over all their labels), or {@code otherwise} when there is none. */
    public double value(String name, double otherwise) {
        double sum = 0;
        boolean any = false;
        for (Sample s : samples) {
            if (s.name().equals(name)) {
                sum += s.value();
                any = true;
            }
        }
        return any ? sum : otherwise;
    }

    /** The sample named {@code name} whose labels include {@code label=value}, or {@code otherwise}. */
    public double value(String name, String label, String value, double otherwise) {
        for (Sample s : samples) {
            if (s.name().equals(name) && value.equals(s.labels().get(label))) {
                return s.value();
            }
        }
        return otherwise;
    }
}
