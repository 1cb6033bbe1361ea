package dev.tributary.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code tributary} command line. */
@Command(
        name = "tributary",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = {
            "Asynchronous, low-communication training across heterogeneous, unreliable",
            "workers, and the weight toolkit it needs: checkpoints, merging, adapters.",
            "",
            "Add --debug to any command to see stack traces of failures."
        },
        subcommands = {
            InspectCommand.class,
            MergeCommand.class,
            LoraCommand.class,
            DemoCommand.class,
            InitCommand.class,
            ServeCommand.class,
            WorkCommand.class,
            LearnCommand.class,
            ActCommand.class,
            LogCommand.class,
            SimulateCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    /** Held so that the level set on it stays (loggers are only weakly kept). */
    private static final java.util.logging.Logger GRPC_LOG = java.util.logging.Logger.getLogger("io.grpc");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (see tributary --help)");
    }

    public static void main(String[] args) {
        // Libraries log through SLF4J's simple logger: warnings and errors only, one line each.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel",
                System.getProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn"));
        // DJL probes for CUDA on every start and warns when there is none: expected on CPU machines.
        System.setProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils",
                System.getProperty("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "error"));
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status: 0 ok, 1 bad input or failure, 2 bad usage. */
    public static int run(String... args) {
        return run(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** As {@link #run(String...)} with explicit streams (tests). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        boolean debug = Arrays.asList(args).contains("--debug");
        // gRPC logs a failed name resolution or connection with a stack trace; the commands say it in one line.
        GRPC_LOG.setLevel(debug ? java.util.logging.Level.INFO : java.util.logging.Level.SEVERE);
        String[] rest = Arrays.stream(args).filter(a -> !a.equals("--debug")).toArray(String[]::new);
        CommandLine cl = new CommandLine(new Main());
        Help.polish(cl);
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setParameterExceptionHandler((ex, a) -> {
            String unknown = Help.unknownOption(ex.getCommandLine().getCommandSpec(), a);
            if (unknown != null && !(ex instanceof CommandLine.UnmatchedArgumentException)) {
                err.println("error: " + unknown);
            } else {
                err.println("error: " + ex.getMessage());
            }
            if (ex instanceof CommandLine.UnmatchedArgumentException u) {
                Help.suggest(u, err);
            }
            if (debug) {
                ex.printStackTrace(err);
            }
            CommandLine sub = ex.getCommandLine();
            err.println("(see '" + sub.getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return 2;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> Errors.report(ex, err, debug));
        return cl.execute(rest);
    }

    /** Version from the jar manifest when packaged, else the development version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"tributary " + (v == null ? "0.1.0-SNAPSHOT" : v)};
        }
    }
}
