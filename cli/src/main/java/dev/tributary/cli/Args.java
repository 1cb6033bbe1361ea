package dev.tributary.cli;

import dev.tributary.tensor.SafetensorsFile;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * Checks of command-line values, each failing with one line that names the flag, the value and the rule.
 * A value that breaks a rule on its own (a port above 65535, a count of 0) is bad usage, exit 2; a file that
 * is not what the flag needs, or a port another program holds, is bad input, exit 1.
 */
final class Args {
    private Args() {}

    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)?");
    private static final Pattern HOST_PORT = Pattern.compile("(\\[[0-9A-Fa-f:.]+]|[^:\\s/]+):(\\d+)");

    /** A TCP port to listen on: 1 to 65535, or 0 too when {@code zeroMeans} says what 0 does. */
    static void port(CommandSpec spec, String flag, int port, String zeroMeans) {
        int min = zeroMeans == null ? 1 : 0;
        if (port < min || port > 65535) {
            throw new ParameterException(spec.commandLine(), flag + " " + port + ": a port is between " + min + " and 65535"
                    + (zeroMeans == null ? "" : " (0 " + zeroMeans + ")"));
        }
    }

    /** A number that must be at least {@code min}. */
    static void atLeast(CommandSpec spec, String flag, double value, double min) {
        if (!(value >= min)) {
            throw new ParameterException(spec.commandLine(), flag + " " + plain(value) + ": must be at least " + plain(min));
        }
    }

    private static String plain(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    /** {@code HOST:PORT} (an IPv6 host in brackets), with a port from 1 to 65535. */
    static void hostPort(CommandSpec spec, String flag, String value) {
        Matcher m = HOST_PORT.matcher(value);
        if (!m.matches()) {
            throw new ParameterException(spec.commandLine(), flag + " \"" + value + "\": expected HOST:PORT, e.g. 127.0.0.1:7070");
        }
        long port = m.group(2).length() > 5 ? Long.MAX_VALUE : Long.parseLong(m.group(2));
        if (port < 1 || port > 65535) {
            throw new ParameterException(spec.commandLine(), flag + " \"" + value + "\": port " + m.group(2)
                    + " is not between 1 and 65535");
        }
    }

    /** A duration: a number of seconds, or a number with {@code ms}, {@code s}, {@code m} or {@code h}; more than 0. */
    static Duration duration(CommandSpec spec, String flag, String value) {
        Matcher m = DURATION.matcher(value.strip().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new ParameterException(spec.commandLine(), flag + " \"" + value
                    + "\": expected a duration such as 30s, 500ms, 5m or 1h");
        }
        double n = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double millis = n * switch (unit) {
            case "ms" -> 1;
            case "m" -> 60_000;
            case "h" -> 3_600_000;
            default -> 1_000;
        };
        if (!(millis >= 1) || millis > Long.MAX_VALUE / 2) {
            throw new ParameterException(spec.commandLine(), flag + " \"" + value + "\": must be at least 1 ms");
        }
        return Duration.ofMillis((long) millis);
    }

    /** An existing regular file (not a folder). */
    static Path existingFile(String flag, Path p) {
        if (Files.isDirectory(p)) {
            throw new UserException(flag + " " + p + ": is a folder; give a file");
        }
        if (!Files.isRegularFile(p)) {
            throw new UserException(flag + " " + p + ": no such file");
        }
        if (!Files.isReadable(p)) {
            throw new UserException(flag + " " + p + ": not readable");
        }
        return p;
    }

    /** An existing file in the safetensors format (its header read and checked, no tensor data). */
    static Path safetensorsFile(String flag, Path p) {
        existingFile(flag, p);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            f.names();
        } catch (RuntimeException e) {
            throw new UserException(flag + " " + p + ": not a safetensors file (" + Errors.message(e) + ")");
        }
        return p;
    }

    /** A file to write: not a folder; the folders it goes in are made when missing, but none may be a file. */
    static Path fileToWrite(String flag, Path p) {
        if (Files.isDirectory(p)) {
            throw new UserException(flag + " " + p + ": is a folder; give a file");
        }
        Path parent = p.toAbsolutePath().getParent();
        for (Path q = parent; q != null; q = q.getParent()) {
            if (Files.exists(q)) {
                if (!Files.isDirectory(q)) {
                    throw new UserException(flag + " " + p + ": " + q + " is a file, not a folder");
                }
                break;
            }
        }
        if (parent != null) {
            try {
                Files.createDirectories(parent);
            } catch (java.io.IOException e) {
                throw new UserException(flag + " " + p + ": cannot make its folder (" + Errors.message(e) + ")", e);
            }
        }
        return p;
    }

    /** A folder, made when missing: not an existing file. */
    static Path folder(String flag, Path p) {
        if (Files.exists(p) && !Files.isDirectory(p)) {
            throw new UserException(flag + " " + p + ": is a file; give a folder");
        }
        return p;
    }

    /** An existing folder. */
    static Path existingFolder(String flag, Path p) {
        folder(flag, p);
        if (!Files.isDirectory(p)) {
            throw new UserException(flag + " " + p + ": no such folder");
        }
        return p;
    }

    /** True when {@code e} or a cause is a failure to bind a port that is taken. */
    static boolean portInUse(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BindException || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
                return true;
            }
        }
        return false;
    }

    /** The one line for a port that is taken. */
    static UserException inUse(String flag, String host, int port, Throwable cause) {
        return new UserException(flag + " " + port + ": " + host + ":" + port + " is in use by another program; "
                + "stop it or choose another port", cause);
    }
}
