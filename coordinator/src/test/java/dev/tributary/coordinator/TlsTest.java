package dev.tributary.coordinator;

import dev.tributary.store.TestModels;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.RegisterReply;
import dev.tributary.protocol.RegisterRequest;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TLS and mutual TLS over a real loopback port, with self-signed certificates made at test time by keytool. */
class TlsTest {
    static final char[] PASS = "changeit".toCharArray();

    @TempDir
    static Path dir;

    static KeyStore server;
    static KeyStore client;

    static KeyStore keyStore(String name, String cn) throws Exception {
        Path file = dir.resolve(name + ".p12");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", name, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + cn,
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", file.toString(), "-storepass", new String(PASS)).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), "keytool");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(file)) {
            ks.load(in, PASS);
        }
        return ks;
    }

    @BeforeAll
    static void certificates() throws Exception {
        server = keyStore("server", "localhost");
        client = keyStore("client", "worker");
    }

    static KeyManagerFactory keys(KeyStore ks) throws Exception {
        KeyManagerFactory f = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        f.init(ks, PASS);
        return f;
    }

    static TrustManagerFactory trust(KeyStore ks) throws Exception {
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init(ks);
        return f;
    }

    RegisterReply register(int port, ChannelCredentials creds) throws InterruptedException {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port, creds).build();
        try {
            Metadata md = new Metadata();
            md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer tls-token");
            return CoordinatorGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                    .withDeadlineAfter(20, TimeUnit.SECONDS)
                    .register(RegisterRequest.newBuilder().setName("tls").build());
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    Coordinator start(TlsServerCredentials.Builder tls, Path state) throws IOException {
        return Coordinator.start(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0), tls.build()), state,
                TestModels.model(1), CoordinatorConfig.defaults("fedasync"), Tokens.of(List.of("tls-token")), w -> {});
    }

    @Test
    void tlsServesClientsThatTrustTheCertificate() throws Exception {
        try (Coordinator c = start(TlsServerCredentials.newBuilder().keyManager(keys(server).getKeyManagers()), dir.resolve("a"))) {
            ChannelCredentials trusting = TlsChannelCredentials.newBuilder().trustManager(trust(server).getTrustManagers()).build();
            assertEquals("fedasync", register(c.port(), trusting).getStrategy());
            ChannelCredentials stranger = TlsChannelCredentials.newBuilder().trustManager(trust(client).getTrustManagers()).build();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> register(c.port(), stranger));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        }
    }

    @Test
    void mutualTlsRefusesClientsWithoutATrustedCertificate() throws Exception {
        TlsServerCredentials.Builder mtls = TlsServerCredentials.newBuilder().keyManager(keys(server).getKeyManagers())
                .trustManager(trust(client).getTrustManagers()).clientAuth(TlsServerCredentials.ClientAuth.REQUIRE);
        try (Coordinator c = start(mtls, dir.resolve("b"))) {
            ChannelCredentials withCert = TlsChannelCredentials.newBuilder().trustManager(trust(server).getTrustManagers())
                    .keyManager(keys(client).getKeyManagers()).build();
            assertEquals("fedasync", register(c.port(), withCert).getStrategy());
            ChannelCredentials noCert = TlsChannelCredentials.newBuilder().trustManager(trust(server).getTrustManagers()).build();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> register(c.port(), noCert));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        }
    }
}
