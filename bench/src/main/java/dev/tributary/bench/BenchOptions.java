package dev.tributary.bench;

import picocli.CommandLine;

/**
 * The benchmarks' command lines: each benchmark declares its options as a picocli {@code @Command} with
 * {@code @Option} fields holding the defaults; {@link #parse} fills them in, prints the usage (every default
 * shown) and exits 0 for {@code --help}, and for an unknown option or a bad value prints one line naming it
 * and exits 2.
 */
public final class BenchOptions {
    private BenchOptions() {}

    /** Parses {@code args} into {@code options} (see the class comment); returns {@code options}. */
    public static <T> T parse(T options, String[] args) {
        CommandLine cl = new CommandLine(options);
        try {
            CommandLine.ParseResult r = cl.parseArgs(args);
            if (CommandLine.printHelpIfRequested(r)) {
                System.exit(0);
            }
        } catch (CommandLine.ParameterException e) {
            System.err.println(cl.getCommandName() + ": " + e.getMessage() + " (--help lists the options)");
            System.exit(2);
        }
        return options;
    }
}
