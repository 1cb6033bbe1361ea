package dev.tributary.cli;

import io.grpc.InsecureServerCredentials;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The TLS options of a server command ({@code serve}, {@code learn}): none, TLS, or mTLS. */
final class TlsServerOptions {
    @Option(names = "--tls-cert", paramLabel = "PEM", description = "TLS certificate chain (with --tls-key)")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "TLS private key, PKCS#8")
    Path key;

    @Option(names = "--tls-client-ca", paramLabel = "PEM", description = "require client certificates signed by this CA (mTLS)")
    Path clientCa;

    /** Fails with one line when a given file is missing or a folder. */
    void check() {
        for (var e : java.util.Map.of("--tls-cert", java.util.Optional.ofNullable(cert), "--tls-key", java.util.Optional.ofNullable(key),
                "--tls-client-ca", java.util.Optional.ofNullable(clientCa)).entrySet()) {
            e.getValue().ifPresent(p -> Args.existingFile(e.getKey(), p));
        }
    }

    /** Plain, TLS ({@code --tls-cert} and {@code --tls-key}) or mTLS (with {@code --tls-client-ca}) credentials. */
    ServerCredentials credentials() throws IOException {
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

    /** {@code ""}, {@code ", TLS"} or {@code ", mTLS"}, for the line a server prints when it starts. */
    String describe() {
        return cert == null ? "" : clientCa == null ? ", TLS" : ", mTLS";
    }
}
