package dev.tributary.cli;

import dev.tributary.sim.Reports;
import dev.tributary.sim.SimConfig;
import dev.tributary.sim.SimReport;
import dev.tributary.sim.Simulation;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary simulate}: many clients in one process on a virtual clock. */
@Command(
        name = "simulate",
        mixinStandardHelpOptions = true,
        description = {
            "Simulate N clients of different speeds training one model through the",
            "coordinator's own validation and strategy. The training is real; the time",
            "is virtual, drawn from each client's speed: a run is deterministic for a",
            "seed and faster than real time.",
            "",
            "FILE.yaml sets task, clients, seed, partition, speeds, churn, network,",
            "strategy, validation, local, budget, target and eval_every",
            "(see examples/fmnist-sync.yaml).",
            "",
            "Prints a summary. --report R.json also writes the report (JSON) and the",
            "accuracy curve beside it as R.png; --plot puts the curve elsewhere (or",
            "draws it without a report). A progress line shows on stderr when it is",
            "a terminal.",
            "",
            "A FILE.yaml with an env key runs actors and a learner instead (see",
            "examples/cartpole-async.yaml); its report and plot go to",
            ".tributary/sim/ unless --report says otherwise."
        })
final class SimulateCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "FILE.yaml", description = "the simulation to run")
    Path config;

    @Option(names = "--report", paramLabel = "R.json", description = "write the report here, and the curve as R.png beside it")
    Path report;

    @Option(names = "--plot", paramLabel = "P.png", description = "write the accuracy curve here (default: beside --report)")
    Path plot;

    @Option(names = "--overlay", paramLabel = "R0.json", description = "draw this earlier report's curve on the same chart (repeatable)")
    List<Path> overlays = new ArrayList<>();

    @Option(names = "--seed", paramLabel = "S", description = "override the config's seed")
    Long seed;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(config)) {
            throw new UserException("no such file: " + config);
        }
        if (describesRl()) {
            return SimulateRl.run(this);
        }
        List<SimReport> earlier = new ArrayList<>();
        for (Path o : overlays) {
            if (!Files.isRegularFile(o)) {
                throw new UserException("no such file: " + o);
            }
            earlier.add(Reports.read(o));
        }
        SimConfig c;
        try {
            c = SimConfig.load(config);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage(), e);
        }
        if (seed != null) {
            c = c.withSeed(seed);
        }
        Simulation.Result result;
        try (ProgressBar bar = new ProgressBar("simulate")) {
            double budget = c.budget().virtualSeconds();
            result = Simulation.run(c, p -> bar.update(Math.round(p.virtualSeconds()), Math.round(budget),
                    String.format(Locale.ROOT, "v%d acc %.4f upd %d", p.version(), p.accuracy(), p.updates())));
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage(), e);
        }
        SimReport r = result.report();
        Path png = plot != null ? plot : report != null ? Reports.pngBeside(report) : null;
        if (report != null) {
            write(r, report);
        }
        if (png != null) {
            List<SimReport> all = new ArrayList<>(earlier);
            all.add(r);
            String title = String.format(Locale.ROOT, "%s, %d clients, %sx speed spread", c.task(), c.clients(),
                    BigDecimal.valueOf(c.speeds().spread()).stripTrailingZeros().toPlainString());
            Reports.plot(png, title, all, c.target());
        }
        printSummary(spec.commandLine().getOut(), c, result, png);
        return 0;
    }

    private boolean describesRl() throws IOException {
        try {
            return dev.tributary.sim.RlSimConfig.describesRl(config);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage(), e);
        }
    }

    private static void write(SimReport r, Path json) {
        try {
            Reports.write(r, json);
        } catch (IOException e) {
            throw new UserException("cannot write " + json + ": " + e.getMessage(), e);
        }
    }

    private void printSummary(PrintWriter out, SimConfig c, Simulation.Result result, Path png) {
        SimReport r = result.report();
        out.printf(Locale.ROOT, "%s on %s, %d clients, seed %d: %.0f virtual s in %s wall (%.1fx real time)%n",
                r.strategy(), c.task(), r.clients(), r.seed(), r.virtualSeconds(), Human.seconds(r.wallSeconds()),
                r.virtualSeconds() / Math.max(r.wallSeconds(), 1e-9));
        SimReport.TimeToTarget t = r.timeToTarget();
        String reached = t.target() == null ? "no target"
                : t.virtualSeconds() == null ? "target " + t.target() + " not reached"
                : String.format(Locale.ROOT, "target %s reached at %.1f virtual s", t.target(), t.virtualSeconds());
        out.printf(Locale.ROOT, "final accuracy %.4f; %s%n", r.finalAccuracy(), reached);
        String refusals = result.refused().isEmpty() ? "0 refused"
                : result.refused().values().stream().mapToLong(Long::longValue).sum() + " refused ("
                        + result.refused().entrySet().stream().map(e -> e.getKey() + " " + e.getValue())
                                .collect(Collectors.joining(", ")) + ")";
        out.printf(Locale.ROOT, "updates %d accepted, %s, %d lost to churn; version %d%n", r.updates(), refusals,
                result.lost(), result.version());
        out.printf(Locale.ROOT, "staleness mean %.2f, p50 %d, p99 %d, max %d%n", r.staleness().mean(),
                r.staleness().p50(), r.staleness().p99(), r.staleness().max());
        out.printf(Locale.ROOT, "traffic up %s, down %s; heap peak %s%n", Human.bytes(r.bytesUp()),
                Human.bytes(r.bytesDown()), Human.bytes(heapPeak()));
        SimReport.Compression z = r.compression();
        if (z != null) {
            out.printf(Locale.ROOT, "compression: pushes %s (%s decoded, %.1fx), error feedback %s, %d resets; pulls %s (%s as full models, %.1fx)%n",
                    z.codec() == null ? "f32" : z.codec(), Human.bytes(z.decodedBytesUp()), z.compressionUp(),
                    z.errorFeedback(), z.errorFeedbackResets(), z.pulls(), Human.bytes(z.fullBytesDown()), z.compressionDown());
        }
        if (report != null) {
            out.println("report: " + report);
        }
        if (png != null) {
            out.println("plot: " + png);
        }
        out.flush();
    }

    /** The sum of the heap pools' peaks: an upper bound on the heap in use at any one time. */
    private static long heapPeak() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }
}
