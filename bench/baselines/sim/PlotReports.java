// Draws the accuracy curves of several simulation reports on one chart (the format `tributary simulate
// --report` writes). Run with the CLI's classpath:
//   java -cp "cli/target/classes:cli/target/lib/*" bench/baselines/sim/PlotReports.java OUT.png TITLE R1.json R2.json ...
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.sim.Plots;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class PlotReports {
    public static void main(String[] args) throws Exception {
        List<Plots.Series> series = new ArrayList<>();
        double target = Double.NaN;
        for (int i = 2; i < args.length; i++) {
            JsonNode r = new ObjectMapper().readTree(Path.of(args[i]).toFile());
            List<double[]> points = new ArrayList<>();
            r.get("curve").forEach(p -> points.add(new double[] {p.get(0).asDouble(), p.get(1).asDouble()}));
            String name = r.get("strategy").asText() + ", " + r.get("clients").asInt() + " clients";
            series.add(new Plots.Series(name, points));
            JsonNode t = r.get("time_to_target").get("target");
            target = t == null || t.isNull() ? target : t.asDouble();
        }
        Plots.lineChart(Path.of(args[0]), args[1], "virtual seconds", "test accuracy", series, target);
    }
}
