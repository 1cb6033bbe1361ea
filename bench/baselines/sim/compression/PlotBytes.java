// Draws test accuracy against bytes pushed so far (log scale) for several simulation reports written
// with a codec or delta pulls (their `compression.traffic` sits beside `curve`). Run with the CLI's classpath:
//   java -cp "cli/target/classes:cli/target/lib/*" bench/baselines/sim/compression/PlotBytes.java OUT.png TITLE NAME=R.json ...
// With PLOT_BYTES=total in the environment the x axis is bytes up plus bytes down (pulls included).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

public class PlotBytes {
    public static void main(String[] args) throws Exception {
        System.setProperty("java.awt.headless", "true");
        boolean total = "total".equals(System.getenv("PLOT_BYTES"));
        XYChart chart = new XYChartBuilder().width(900).height(560).title(args[1])
                .xAxisTitle(total ? "MB exchanged so far (up + down on the wire, log scale)"
                        : "MB pushed so far (bytes up on the wire, log scale)").yAxisTitle("test accuracy").build();
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotGridLinesVisible(true);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setYAxisMin(0.6);
        double lo = Double.MAX_VALUE;
        double hi = 0;
        double target = Double.NaN;
        for (int i = 2; i < args.length; i++) {
            String name = args[i].substring(0, args[i].indexOf('='));
            JsonNode r = new ObjectMapper().readTree(Path.of(args[i].substring(name.length() + 1)).toFile());
            JsonNode curve = r.get("curve");
            JsonNode traffic = r.get("compression").get("traffic");
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (int k = 0; k < curve.size(); k++) {
                double mb = (traffic.get(k).get(1).asDouble() + (total ? traffic.get(k).get(2).asDouble() : 0)) / 1e6;
                if (mb > 0) {  // the log axis starts at the first push
                    xs.add(mb);
                    ys.add(curve.get(k).get(1).asDouble());
                    lo = Math.min(lo, mb);
                    hi = Math.max(hi, mb);
                }
            }
            XYSeries s = chart.addSeries(name, xs, ys);
            s.setMarker(SeriesMarkers.NONE);
            s.setLineWidth(2f);
            JsonNode t = r.get("time_to_target").get("target");
            target = t == null || t.isNull() ? target : t.asDouble();
        }
        if (!Double.isNaN(target) && hi > 0) {
            XYSeries t = chart.addSeries("target " + target, new double[] {lo, hi}, new double[] {target, target});
            t.setMarker(SeriesMarkers.NONE);
            t.setLineColor(Color.GRAY);
        }
        BitmapEncoder.saveBitmap(chart, args[0], BitmapEncoder.BitmapFormat.PNG);
    }
}
