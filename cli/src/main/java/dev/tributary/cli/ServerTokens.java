package dev.tributary.cli;

import dev.tributary.coordinator.auth.Tokens;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;

/** The bearer tokens a server command ({@code serve}, {@code learn}) accepts. */
final class ServerTokens {
    private ServerTokens() {}

    /** {@code file}, else {@code state/tokens}, made with one random token the first time. */
    static Tokens tokens(Path file, Path state, PrintWriter out) throws IOException {
        if (file != null) {
            if (!Files.isRegularFile(file)) {
                throw new UserException("no such file: " + file);
            }
            return Tokens.read(file);
        }
        Path kept = state.resolve("tokens");
        if (!Files.exists(kept)) {
            byte[] raw = new byte[24];
            new SecureRandom().nextBytes(raw);
            String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
            Files.writeString(kept, token + "\n");
            try {
                Files.setPosixFilePermissions(kept, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException e) {
                out.println("note: cannot restrict the permissions of " + kept);
            }
            out.println("no --tokens: made a token, kept in " + kept + " (give it to clients with --token)");
        }
        return Tokens.read(kept);
    }
}
