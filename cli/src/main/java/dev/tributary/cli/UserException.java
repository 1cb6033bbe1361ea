package dev.tributary.cli;

/**
 * A problem with what the user gave us (a file, a flag's value, a config): printed as one line
 * {@code error: <message>} and exit status 1, never with a stack trace unless {@code --debug}.
 */
public final class UserException extends RuntimeException {
    public UserException(String message) {
        super(message);
    }

    public UserException(String message, Throwable cause) {
        super(message, cause);
    }
}
