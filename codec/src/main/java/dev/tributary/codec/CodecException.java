package dev.tributary.codec;

import java.util.Locale;
import java.util.Objects;

/**
 * An encoded update that was refused while decoding. The message is one line naming what was wrong;
 * {@link #reason()} is a small closed set so that a receiver can count refusals by kind.
 */
public final class CodecException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why bytes were refused. */
    public enum Reason {
        /** Not a well-formed message: bad magic, truncated, inconsistent sizes, invalid values. */
        MALFORMED,
        /** The checksum does not match: the bytes changed after they were encoded. */
        CORRUPT,
        /** A format version or codec this decoder does not read. */
        UNSUPPORTED,
        /** A declared size or count past the caller's limits. */
        TOO_LARGE,
        /** Well-formed, but not exactly the expected tensor names and shapes, in order. */
        LAYOUT;

        /** The code for metrics and logs: {@code malformed}, {@code corrupt}, {@code too_large}, … */
        public String code() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Reason reason;
    private final String detail;

    public CodecException(Reason reason, String message) {
        super(reason.code() + ": " + oneLine(message));
        this.reason = Objects.requireNonNull(reason, "reason");
        this.detail = oneLine(message);
    }

    /** The same refusal with {@code prefix} (e.g. the tensor's name) before the detail. */
    CodecException within(String prefix) {
        return new CodecException(reason, prefix + detail);
    }

    public Reason reason() {
        return reason;
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }
}
