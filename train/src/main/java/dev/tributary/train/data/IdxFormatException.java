package dev.tributary.train.data;

import java.io.IOException;
import java.nio.file.Path;

/** An IDX file that breaks a rule of the format; the message names the file and the rule. */
public final class IdxFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    IdxFormatException(Path file, String rule) {
        super(file + ": " + rule);
    }
}
