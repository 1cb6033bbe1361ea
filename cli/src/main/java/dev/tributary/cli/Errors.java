package dev.tributary.cli;

import dev.tributary.merge.MergeException;
import dev.tributary.tensor.InvalidCheckpointException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;

/** Turns failures into one line on stderr and an exit status; stack traces only with {@code --debug}. */
final class Errors {
    private Errors() {}

    /** Exit status for bad input or a failed operation. */
    static final int FAILED = 1;

    static int report(Throwable ex, PrintWriter err, boolean debug) {
        err.println("error: " + message(ex));
        if (debug) {
            ex.printStackTrace(err);
        } else if (!isExpected(ex)) {
            err.println("(run again with --debug for details)");
        }
        err.flush();
        return FAILED;
    }

    /** One line that names the bad value; falls back to the exception type when it has no message. */
    static String message(Throwable ex) {
        Throwable t = ex;
        if (t instanceof UncheckedIOException u && u.getCause() != null) {
            t = u.getCause();
        }
        String m = switch (t) {
            case NoSuchFileException e -> "no such file: " + e.getFile();
            case AccessDeniedException e -> "permission denied: " + e.getFile();
            case FileAlreadyExistsException e -> "already exists: " + e.getFile();
            case OutOfMemoryError e -> "out of memory (" + e.getMessage() + "); give the JVM more with JAVA_OPTS=-Xmx…";
            default -> t.getMessage();
        };
        if (m == null || m.isBlank()) {
            m = t.getClass().getSimpleName();
        }
        return m.lines().findFirst().orElse(m);
    }

    /** Failures caused by the input rather than by a bug: no hint about --debug needed. */
    private static boolean isExpected(Throwable ex) {
        return ex instanceof UserException
                || ex instanceof IllegalArgumentException
                || ex instanceof IOException
                || ex instanceof UncheckedIOException
                || ex instanceof InvalidCheckpointException
                || ex instanceof MergeException;
    }
}
