package dev.tributary.sim;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Reads actor-learner reports and draws them: one PNG of three panels, the mean return over virtual time,
 * the mean return over environment steps (each with the target as a dashed line), and the share of trained
 * items by staleness.
 */
public final class RlReports {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WIDTH = 900;
    private static final int HEIGHT = 420;

    private RlReports() {}

    /** Whether {@code json} holds an actor-learner report (rather than a federated one). */
    public static boolean isRl(Path json) throws IOException {
        try {
            var node = JSON.readTree(json.toFile());
            return node != null && RlReport.WORKLOAD.equals(node.path("workload").asText(null));
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(json + ": not a simulation report: "
                    + String.valueOf(e.getOriginalMessage()).lines().findFirst().orElse(""), e);
        }
    }

    /** Reads a report written by {@link Reports#write}. */
    public static RlReport read(Path json) throws IOException {
        try {
            return JSON.readValue(json.toFile(), RlReport.class);
        } catch (com.fasterxml.jackson.core.JacksonException e) {
            throw new IOException(json + ": not an actor-learner report: "
                    + String.valueOf(e.getOriginalMessage()).lines().findFirst().orElse(""), e);
        }
    }

    /** The legend name of each report: its mode and seed (and its position when two share them). */
    static List<String> names(List<RlReport> reports) {
        List<String> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < reports.size(); i++) {
            RlReport r = reports.get(i);
            String name = r.mode() + " (seed " + r.seed() + ")";
            if (!seen.add(name)) {
                name = name + " #" + (i + 1);
                seen.add(name);
            }
            out.add(name);
        }
        return out;
    }

    /** Draws {@code reports} into {@code png}; {@code target} (NaN for none) is a dashed line. */
    public static Path plot(Path png, String title, List<RlReport> reports, double target) {
        System.setProperty("java.awt.headless", "true");
        List<String> names = names(reports);
        XYChart overTime = chart(title + ": mean return of the last 100 episodes", "virtual seconds", "mean return");
        XYChart overSteps = chart("the same over environment steps", "environment steps", "mean return");
        XYChart stale = chart("trained items by staleness (versions behind the learner)", "staleness", "share of items");
        stale.getStyler().setYAxisMin(0.0);
        stale.getStyler().setYAxisMax(1.0);
        for (int i = 0; i < reports.size(); i++) {
            RlReport r = reports.get(i);
            curve(overTime, names.get(i), r, RlReport.Point::virtualSeconds);
            curve(overSteps, names.get(i), r, p -> p.envSteps());
            long total = r.stalenessCounts().stream().mapToLong(Long::longValue).sum();
            if (total > 0) {
                double[] xs = new double[r.stalenessCounts().size()];
                double[] ys = new double[xs.length];
                for (int k = 0; k < xs.length; k++) {
                    xs[k] = k;
                    ys[k] = (double) r.stalenessCounts().get(k) / total;
                }
                XYSeries s = stale.addSeries(names.get(i), xs, ys);
                s.setMarker(SeriesMarkers.CIRCLE);
                s.setLineWidth(2f);
            }
        }
        targetLine(overTime, reports, target, RlReport::virtualSeconds);
        targetLine(overSteps, reports, target, r -> r.envSteps());
        BufferedImage out = new BufferedImage(WIDTH, 3 * HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            int y = 0;
            for (XYChart c : List.of(overTime, overSteps, stale)) {
                g.drawImage(BitmapEncoder.getBufferedImage(c), 0, y, null);
                y += HEIGHT;
            }
        } finally {
            g.dispose();
        }
        try {
            Path parent = png.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            ImageIO.write(out, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write plot " + png + ": " + e.getMessage(), e);
        }
        return png;
    }

    private static XYChart chart(String title, String x, String y) {
        XYChart c = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(x).yAxisTitle(y).build();
        c.getStyler().setChartBackgroundColor(Color.WHITE);
        c.getStyler().setPlotGridLinesVisible(true);
        c.getStyler().setLegendVisible(true);
        return c;
    }

    private static void curve(XYChart chart, String name, RlReport r, ToDoubleFunction<RlReport.Point> x) {
        List<RlReport.Point> points = r.curve().stream().filter(p -> p.meanReturn() != null).toList();
        if (points.isEmpty()) {
            return;
        }
        XYSeries s = chart.addSeries(name, points.stream().mapToDouble(x).toArray(),
                points.stream().mapToDouble(RlReport.Point::meanReturn).toArray());
        s.setMarker(SeriesMarkers.NONE);
        s.setLineWidth(2f);
    }

    private static void targetLine(XYChart chart, List<RlReport> reports, double target, ToDoubleFunction<RlReport> end) {
        double xMax = reports.stream().mapToDouble(end).max().orElse(0);
        if (Double.isNaN(target) || !(xMax > 0)) {
            return;
        }
        XYSeries t = chart.addSeries("target " + target, new double[] {0, xMax}, new double[] {target, target});
        t.setMarker(SeriesMarkers.NONE);
        t.setLineColor(Color.GRAY);
        t.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 6f}, 0f));
    }
}
