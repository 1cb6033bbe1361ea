package dev.tributary.cli;

import dev.tributary.coordinator.auth.Tokens;
import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;

/** What servers ({@code serve}, {@code learn}) and clients ({@code work}, {@code act}) share: TLS and tokens. */
final class Transport {
    private Transport() {}

    /** Plain, TLS ({@code cert} and {@code key}) or mTLS (with {@code clientCa}) server credentials. */
    static ServerCredentials serverCredentials(Path cert, Path key, Path clientCa) throws IOException {
        if (cert == null && key == null) {
            if (clientCa != null) {
                throw new UserException("--tls-client-ca needs --tls-cert and --tls-key");
            }
            return InsecureServerCredentials.create();
        }
        if (cert == null || key == null) {
            throw new UserException("--tls-cert and --tls-key go together");
        }
        TlsServerCredentials.Builder b = TlsServerCredentials.newBuilder().keyManager(cert.toFile(), key.toFile());
        if (clientCa != null) {
            b.trustManager(clientCa.toFile()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        }
        return b.build();
    }

    /** Plain, TLS (trusting {@code ca}) or mTLS (presenting {@code cert} and {@code key}) channel credentials. */
    static ChannelCredentials channelCredentials(Path ca, Path cert, Path key) throws IOException {
        if (ca == null) {
            if (cert != null || key != null) {
                throw new UserException("--tls-cert and --tls-key need --tls-ca");
            }
            return InsecureChannelCredentials.create();
        }
        TlsChannelCredentials.Builder b = TlsChannelCredentials.newBuilder().trustManager(ca.toFile());
        if (cert != null || key != null) {
            if (cert == null || key == null) {
                throw new UserException("--tls-cert and --tls-key go together");
            }
            b.keyManager(cert.toFile(), key.toFile());
        }
        return b.build();
    }

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
