package dev.tributary.sim;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG line charts of training curves (accuracy over time), written headless. */
public final class Plots {
    private Plots() {}

    /** One named curve of (x, y) points. */
    public record Series(String name, List<double[]> points) {}

    /**
     * Writes a line chart to {@code png}. A horizontal dashed line marks {@code target} when it is not NaN.
     *
     * @throws UncheckedIOException when the file cannot be written
     */
    public static Path lineChart(Path png, String title, String xLabel, String yLabel, List<Series> series, double target) {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle(xLabel).yAxisTitle(yLabel).build();
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotGridLinesVisible(true);
        chart.getStyler().setLegendVisible(series.size() > 1 || !Double.isNaN(target));
        double xMax = 0;
        for (Series s : series) {
            if (s.points().isEmpty()) {
                continue;
            }
            double[] xs = s.points().stream().mapToDouble(p -> p[0]).toArray();
            double[] ys = s.points().stream().mapToDouble(p -> p[1]).toArray();
            xMax = Math.max(xMax, xs[xs.length - 1]);
            XYSeries line = chart.addSeries(s.name(), xs, ys);
            line.setMarker(SeriesMarkers.NONE);
            line.setLineWidth(2f);
        }
        if (!Double.isNaN(target) && xMax > 0) {
            XYSeries t = chart.addSeries("target " + target, new double[] {0, xMax}, new double[] {target, target});
            t.setMarker(SeriesMarkers.NONE);
            t.setLineColor(Color.GRAY);
            t.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 6f}, 0f));
        }
        try {
            Path parent = png.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write plot " + png + ": " + e.getMessage(), e);
        }
        return png;
    }
}
