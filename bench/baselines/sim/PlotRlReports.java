// Draws several actor-learner reports (the format `tributary simulate --report` writes for a config with
// `env:`) on one three-panel chart. Run with the CLI's classpath:
//   java -cp "cli/target/classes:cli/target/lib/*" bench/baselines/sim/PlotRlReports.java OUT.png TITLE R1.json R2.json ...
import dev.tributary.sim.RlReport;
import dev.tributary.sim.RlReports;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

public class PlotRlReports {
    public static void main(String[] args) throws Exception {
        List<RlReport> reports = new ArrayList<>();
        double target = Double.NaN;
        for (int i = 2; i < args.length; i++) {
            RlReport r = RlReports.read(Path.of(args[i]));
            reports.add(r);
            target = r.timeToTarget().target() == null ? target : r.timeToTarget().target();
        }
        RlReports.plot(Path.of(args[0]), args[1], reports, target);
    }
}
