package dev.tributary.cli;

import io.grpc.ChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.TlsChannelCredentials;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The TLS options of a client command ({@code work}, {@code act}): none, TLS, or mTLS. */
final class TlsClientOptions {
    @Option(names = "--tls-ca", paramLabel = "PEM", description = "trust the server's certificate through this CA (enables TLS)")
    Path ca;

    @Option(names = "--tls-cert", paramLabel = "PEM", description = "client certificate chain for mTLS (with --tls-key)")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "PEM", description = "client private key for mTLS, PKCS#8")
    Path key;

    /** Fails with one line when a given file is missing or a folder. */
    void check() {
        for (var e : java.util.Map.of("--tls-ca", java.util.Optional.ofNullable(ca), "--tls-cert", java.util.Optional.ofNullable(cert),
                "--tls-key", java.util.Optional.ofNullable(key)).entrySet()) {
            e.getValue().ifPresent(p -> Args.existingFile(e.getKey(), p));
        }
    }

    /** Plain, TLS (trusting {@code --tls-ca}) or mTLS (presenting {@code --tls-cert} and {@code --tls-key}). */
    ChannelCredentials credentials() throws IOException {
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
}
