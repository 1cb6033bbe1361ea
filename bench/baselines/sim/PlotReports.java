// Draws the accuracy curves of several simulation reports on one chart (the format `tributary simulate
// --report` writes), over virtual time or, with --bytes first, over MiB exchanged. Run with the CLI's classpath:
//   java -cp "cli/target/classes:cli/target/lib/*" bench/baselines/sim/PlotReports.java [--bytes] OUT.png TITLE R1.json R2.json ...
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.sim.Plots;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class PlotReports {
    public static void main(String[] args) throws Exception {
        boolean bytes = args.length > 0 && args[0].equals("--bytes");
        int from = bytes ? 1 : 0;
        List<Plots.Series> series = new ArrayList<>();
        double target = Double.NaN;
        for (int i = from + 2; i < args.length; i++) {
            JsonNode r = new ObjectMapper().readTree(Path.of(args[i]).toFile());
            List<double[]> points = new ArrayList<>();
            r.get("curve").forEach(p -> points.add(new double[] {
                    bytes ? p.get(2).asDouble() / (1 << 20) : p.get(0).asDouble(), p.get(1).asDouble()}));
            String file = Path.of(args[i]).getFileName().toString().replace(".json", "");
            String name = r.get("strategy").asText() + ", " + r.get("clients").asInt() + " clients (" + file + ")";
            series.add(new Plots.Series(name, points));
            JsonNode t = r.get("time_to_target").get("target");
            target = t == null || t.isNull() ? target : t.asDouble();
        }
        Plots.lineChart(Path.of(args[from]), args[from + 1], bytes ? "MiB exchanged (pulled + pushed)" : "virtual seconds",
                "test accuracy", series, target);
    }
}
