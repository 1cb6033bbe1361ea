import dev.tributary.sim.Plots;
import dev.tributary.sim.Reports;
import dev.tributary.sim.SimReport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Charts of several simulate reports on one set of axes: accuracy over virtual time, accuracy over MiB
 * exchanged, and MiB/s exchanged between evaluations (the bandwidth a run needs, from the curve's byte
 * counts), and prints each run's highest such rate after its first evaluation interval. Usage, from the
 * repository root, with the CLI's classpath:
 *
 * <pre>java -cp 'cli/target/classes:cli/target/lib/*' bench/baselines/sim/scale/Charts.java PREFIX "TITLE" LABEL=REPORT.json...</pre>
 *
 * writes PREFIX-time.png, PREFIX-bytes.png and PREFIX-rate.png. A NoLoCo report's curve is the mean of its
 * workers' accuracies; the time chart adds its worst worker and the element-wise mean of its workers' models.
 */
public final class Charts {
    public static void main(String[] args) throws Exception {
        String prefix = args[0];
        String title = args[1];
        List<Plots.Series> time = new ArrayList<>();
        List<Plots.Series> bytes = new ArrayList<>();
        List<Plots.Series> rate = new ArrayList<>();
        double target = Double.NaN;
        for (int i = 2; i < args.length; i++) {
            String label = args[i].substring(0, args[i].lastIndexOf('='));
            SimReport r = Reports.read(Path.of(args[i].substring(label.length() + 1)));
            if (r.timeToTarget() != null && r.timeToTarget().target() != null) {
                target = r.timeToTarget().target();
            }
            List<double[]> t = new ArrayList<>();
            List<double[]> b = new ArrayList<>();
            List<double[]> s = new ArrayList<>();
            double peak = 0;
            SimReport.Point previous = null;
            for (SimReport.Point p : r.curve()) {
                t.add(new double[] {p.virtualSeconds(), p.accuracy()});
                b.add(new double[] {p.bytes() / 1048576.0, p.accuracy()});
                if (previous != null && p.virtualSeconds() > previous.virtualSeconds()) {
                    double mibs = (p.bytes() - previous.bytes()) / 1048576.0 / (p.virtualSeconds() - previous.virtualSeconds());
                    s.add(new double[] {p.virtualSeconds(), mibs});
                    if (s.size() > 1) {
                        peak = Math.max(peak, mibs);
                    }
                }
                previous = p;
            }
            time.add(new Plots.Series(label, t));
            if (r.replicas() != null) {
                List<double[]> worst = new ArrayList<>();
                List<double[]> averaged = new ArrayList<>();
                for (SimReport.Replicas x : r.replicas()) {
                    worst.add(new double[] {x.virtualSeconds(), x.min()});
                    averaged.add(new double[] {x.virtualSeconds(), x.averaged()});
                }
                time.add(new Plots.Series(label + " (worst worker)", worst));
                time.add(new Plots.Series(label + " (averaged model)", averaged));
            }
            bytes.add(new Plots.Series(label, b));
            rate.add(new Plots.Series(label, s));
            System.out.printf("%s: highest MiB/s between evaluations after the first interval: %.2f; peak_bytes_per_second "
                    + "%.2f MiB/s (pushes %.2f)%n", label, peak, r.peakBytesPerSecond() / 1048576.0,
                    r.peakUpBytesPerSecond() / 1048576.0);
        }
        Plots.lineChart(Path.of(prefix + "-time.png"), title, "virtual seconds", "test accuracy", time, target);
        Plots.lineChart(Path.of(prefix + "-bytes.png"), title, "MiB exchanged (pulled + pushed)", "test accuracy", bytes, target);
        Plots.lineChart(Path.of(prefix + "-rate.png"), title, "virtual seconds", "MiB/s exchanged since the last evaluation",
                rate, Double.NaN);
    }
}
