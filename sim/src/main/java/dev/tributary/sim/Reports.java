package dev.tributary.sim;

import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Writes and reads simulation reports (JSON) and draws their accuracy curves (PNG). */
public final class Reports {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Reports() {}

    /** The report as JSON text: one key per line, each curve point on one line. */
    public static String toJson(SimReport report) {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withArrayIndenter(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE);
        try {
            String text = JSON.writer(printer).writeValueAsString(report);
            // Inner [t, accuracy, bytes] points on one line each: collapse the line breaks inside them.
            return text.replaceAll("\\[\\s+([-0-9.eE]+),\\s+([-0-9.eE]+),\\s+([-0-9.eE]+)\\s+]", "[$1, $2, $3]");
        } catch (IOException e) {
            throw new IllegalStateException("report does not serialize: " + e.getMessage(), e);
        }
    }

    /** Writes the report to {@code json}, creating its folder. */
    public static void write(SimReport report, Path json) throws IOException {
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(json, toJson(report) + System.lineSeparator());
    }

    /** Reads a report written by {@link #write}. */
    public static SimReport read(Path json) throws IOException {
        try {
            return JSON.readValue(json.toFile(), SimReport.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(json + ": not a simulation report: "
                    + String.valueOf(e.getOriginalMessage()).lines().findFirst().orElse(""), e);
        }
    }

    /** {@code R.png} beside {@code R.json} (or beside any other name, with {@code .png} appended). */
    public static Path pngBeside(Path json) {
        String name = json.getFileName().toString();
        String stem = name.endsWith(".json") ? name.substring(0, name.length() - 5) : name;
        return json.resolveSibling(stem + ".png");
    }

    /**
     * Draws the accuracy curves of {@code reports} on one chart, each named after its strategy (and its
     * position when two share a strategy), with the target as a dashed line when it is not NaN.
     */
    public static Path plot(Path png, String title, List<SimReport> reports, double target) {
        List<Plots.Series> series = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < reports.size(); i++) {
            SimReport r = reports.get(i);
            String name = r.strategy() + " (seed " + r.seed() + ")";
            if (!names.add(name)) {
                name = name + " #" + (i + 1);
                names.add(name);
            }
            List<double[]> points = new ArrayList<>(r.curve().size());
            for (SimReport.Point p : r.curve()) {
                points.add(new double[] {p.virtualSeconds(), p.accuracy()});
            }
            series.add(new Plots.Series(name, points));
        }
        return Plots.lineChart(png, title, "virtual seconds", "test accuracy", series, target);
    }
}
