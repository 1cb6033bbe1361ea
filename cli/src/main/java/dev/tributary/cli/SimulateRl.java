package dev.tributary.cli;

import dev.tributary.sim.Reports;
import dev.tributary.sim.RlReport;
import dev.tributary.sim.RlReports;
import dev.tributary.sim.RlSimConfig;
import dev.tributary.sim.RlSimulation;
import java.io.IOException;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * {@code tributary simulate} for an actor-learner configuration (one with an {@code env} key): runs it,
 * writes the report and its plot (by default under {@code .tributary/sim/}), prints a summary.
 */
final class SimulateRl {
    /** Where reports go when {@code --report} is not given. */
    static final Path DEFAULT_DIR = Path.of(".tributary", "sim");

    private SimulateRl() {}

    static int run(SimulateCommand cmd) throws Exception {
        List<RlReport> earlier = new ArrayList<>();
        for (Path o : cmd.overlays) {
            if (!Files.isRegularFile(o)) {
                throw new UserException("no such file: " + o);
            }
            if (!RlReports.isRl(o)) {
                throw new UserException(o + ": a federated report; an actor-learner run overlays actor-learner reports only");
            }
            earlier.add(RlReports.read(o));
        }
        RlSimConfig c;
        try {
            c = RlSimConfig.load(cmd.config);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage(), e);
        }
        if (cmd.seed != null) {
            c = c.withSeed(cmd.seed);
        }
        RlSimulation.Result result;
        long budget = c.envStepsBudget();
        double seconds = c.virtualSeconds();
        try (ProgressBar bar = new ProgressBar("simulate " + c.mode())) {
            result = RlSimulation.run(c, p -> bar.update(budget > 0 ? p.envSteps() : Math.round(p.virtualSeconds()),
                    budget > 0 ? budget : Math.round(seconds),
                    String.format(Locale.ROOT, "v%d return %.1f at %.0f s", p.version(), p.meanReturn(),
                            p.virtualSeconds())));
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage(), e);
        }
        RlReport r = result.report();
        Path json = cmd.report != null ? cmd.report : DEFAULT_DIR.resolve(stem(cmd.config) + ".json");
        try {
            Reports.write(r, json);
        } catch (IOException e) {
            throw new UserException("cannot write " + json + ": " + e.getMessage(), e);
        }
        Path png = cmd.plot != null ? cmd.plot : Reports.pngBeside(json);
        List<RlReport> all = new ArrayList<>(earlier);
        all.add(r);
        String title = String.format(Locale.ROOT, "%s, %d actors, %sx speed spread", c.env(), c.actors(),
                BigDecimal.valueOf(c.speeds().spread()).stripTrailingZeros().toPlainString());
        RlReports.plot(png, title, all, c.target());
        summary(cmd.spec.commandLine().getOut(), r, json, png);
        return 0;
    }

    private static String stem(Path config) {
        String name = config.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private static void summary(PrintWriter out, RlReport r, Path json, Path png) {
        out.printf(Locale.ROOT, "%s %s on %s, %d actors, seed %d: %.0f virtual s, %d env steps in %s wall%n",
                r.mode(), r.algo(), r.env(), r.actors(), r.seed(), r.virtualSeconds(), r.envSteps(),
                Human.seconds(r.wallSeconds()));
        RlReport.TimeToTarget t = r.timeToTarget();
        String reached = t.target() == null ? "no target"
                : t.virtualSeconds() == null ? "target " + t.target() + " not reached"
                : String.format(Locale.ROOT, "target %s reached at %.1f virtual s, %d env steps", t.target(),
                        t.virtualSeconds(), t.envSteps());
        out.printf(Locale.ROOT, "mean return of the last 100 episodes %s; %s%n",
                r.finalReturn() == null ? "n/a (no episode ended)" : String.format(Locale.ROOT, "%.1f", r.finalReturn()),
                reached);
        String refusals = r.refused().isEmpty() ? "0 refused"
                : r.refused().values().stream().mapToLong(Long::longValue).sum() + " refused ("
                        + r.refused().entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                                .collect(Collectors.joining(", ")) + ")";
        out.printf(Locale.ROOT, "items %d accepted, %s, %d dropped; version %d%n", r.items(), refusals, r.dropped(),
                r.versions());
        out.printf(Locale.ROOT, "staleness mean %.2f, p50 %d, p99 %d, max %d%n", r.staleness().mean(),
                r.staleness().p50(), r.staleness().p99(), r.staleness().max());
        out.printf(Locale.ROOT, "traffic up %s (experience), down %s (policy pulls)%n", Human.bytes(r.bytesUp()),
                Human.bytes(r.bytesDown()));
        out.println("report: " + json);
        out.println("plot: " + png);
        out.flush();
    }
}
