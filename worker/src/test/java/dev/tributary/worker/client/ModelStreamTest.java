package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.buffer.PoolArenaMetric;
import io.grpc.netty.shaded.io.netty.buffer.PooledByteBufAllocator;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model stream over the real transport (Netty on loopback): chunk bytes are parsed where the transport
 * received them and written, checked and digested from there, and every buffer lent is given back, after a
 * whole pull, a refused chunk, and a stream abandoned half way. The client's allocator keeps no thread caches,
 * so its count of live buffers is exact: once the channel is shut down, a buffer still counted was never
 * released.
 */
class ModelStreamTest {
    static final int CHUNK = 1 << 20;

    @TempDir
    Path dir;

    final byte[] body = new byte[12 * CHUNK + 12_345];
    final PooledByteBufAllocator allocator = new PooledByteBufAllocator(true, 1, 1, 8192, 9, 0, 0, false);
    final AtomicInteger cancelled = new AtomicInteger();
    final CountDownLatch cancel = new CountDownLatch(1);
    final CountDownLatch ended = new CountDownLatch(1);
    volatile int corruptChunk = -1;
    /** Bytes the header declares fewer than the body has (a coordinator that sends more than it said). */
    volatile int understate;
    Server server;
    ManagedChannel channel;

    ModelStreamTest() {
        new Random(5).nextBytes(body);
    }

    final class Service extends CoordinatorGrpc.CoordinatorImplBase {
        @Override
        public void pullModel(PullRequest req, StreamObserver<ModelPart> out) {
            ServerCallStreamObserver<ModelPart> o = (ServerCallStreamObserver<ModelPart>) out;
            o.setOnCancelHandler(() -> {
                cancelled.incrementAndGet();
                cancel.countDown();
                ended.countDown();
            });
            try {
                out.onNext(ModelPart.newBuilder().setHeader(ModelHeader.newBuilder().setVersion(7)
                        .setSha256(ByteString.copyFrom(MessageDigest.getInstance("SHA-256").digest(body)))
                        .setTotalBytes(body.length - understate)).build());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            for (int i = 0, at = 0; at < body.length && !o.isCancelled(); i++, at += CHUNK) {
                int n = Math.min(CHUNK, body.length - at);
                CRC32C crc = new CRC32C();
                crc.update(body, at, n);
                int sent = i == corruptChunk ? (int) crc.getValue() ^ 1 : (int) crc.getValue();
                out.onNext(ModelPart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                        .setData(ByteString.copyFrom(body, at, n)).setCrc32C(sent)).build());
            }
            if (!o.isCancelled()) {
                out.onCompleted();
                ended.countDown();
            }
        }
    }

    void start() throws Exception {
        start(io.grpc.InsecureServerCredentials.create(), io.grpc.InsecureChannelCredentials.create());
    }

    /** The service on a loopback port and a client channel to it that takes its buffers from {@link #allocator}. */
    void start(io.grpc.ServerCredentials serverCredentials, io.grpc.ChannelCredentials channelCredentials) throws Exception {
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0), serverCredentials)
                .addService(new Service()).build().start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort(), channelCredentials)
                .withOption(ChannelOption.ALLOCATOR, allocator).maxInboundMessageSize(8 << 20).build();
    }

    @AfterEach
    void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
    }

    /**
     * Buffers of the client's allocator still live once its channel is gone (0 when each was released). The
     * transport frees its own buffers as its channel's pipeline is torn down, which can end a moment after
     * the channel reports termination, so this waits up to 5 s for the count to reach 0; a leaked buffer
     * never does.
     */
    long liveAfterShutdown() throws Exception {
        channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        long until = System.nanoTime() + 5_000_000_000L;
        long live = live();
        while (live > 0 && System.nanoTime() < until) {
            Thread.sleep(20);
            live = live();
        }
        return live;
    }

    private long live() {
        long live = 0;
        for (PoolArenaMetric a : allocator.metric().directArenas()) {
            live += a.numActiveAllocations();
        }
        for (PoolArenaMetric a : allocator.metric().heapArenas()) {
            live += a.numActiveAllocations();
        }
        return live;
    }

    @Test
    void chunksArriveInTheTransportsOwnDirectBuffersAndAreAllGivenBack() throws Exception {
        start();
        int lent = 0;
        ByteBuffer got = ByteBuffer.allocate(body.length);
        try (ModelStream s = ModelStream.open(channel, CallOptions.DEFAULT, PullRequest.getDefaultInstance())) {
            ModelHeader h = s.next().getHeader();
            assertEquals(7, h.getVersion());
            while (s.hasNext()) {
                try (ModelStream.Received r = s.take()) {
                    if (r.held() != null) {
                        lent++;
                        for (ByteBuffer b : r.part().getChunk().getData().asReadOnlyByteBufferList()) {
                            assertTrue(b.isDirect(), "a lent chunk aliases the transport's direct buffers");
                        }
                    }
                    r.part().getChunk().getData().copyTo(got);
                }
            }
            // The header's digest was copied out: it is still readable after every buffer went back.
            assertArrayEquals(MessageDigest.getInstance("SHA-256").digest(body), h.getSha256().toByteArray());
        }
        assertArrayEquals(body, got.array());
        assertEquals(13, lent, "every chunk was parsed over the transport's buffers");
        assertEquals(0, liveAfterShutdown(), "transport buffers never released");
    }

    @Test
    void aWholePullWritesVerifiesAndReleasesEveryChunk() throws Exception {
        start();
        CoordinatorClient client = new CoordinatorClient(channel, "tok");
        CoordinatorClient.Pulled p = client.pull("w", -1, dir);
        assertEquals(7, p.version());
        assertArrayEquals(body, Files.readAllBytes(p.file()));
        assertEquals(java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body)), p.sha256());
        assertEquals(0, liveAfterShutdown(), "transport buffers never released");
    }

    @Test
    void aPullOverTlsIsVerifiedAndGivesBackEveryBuffer() throws Exception {
        // A self-signed certificate made at test time by the JDK's keytool, for 127.0.0.1.
        char[] pass = "changeit".toCharArray();
        Path store = dir.resolve("server.p12");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "server", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore", store.toString(),
                "-storepass", new String(pass)).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), "keytool");
        java.security.KeyStore ks = java.security.KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(store)) {
            ks.load(in, pass);
        }
        Files.delete(store);
        var keys = javax.net.ssl.KeyManagerFactory.getInstance(javax.net.ssl.KeyManagerFactory.getDefaultAlgorithm());
        keys.init(ks, pass);
        var trust = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        trust.init(ks);
        start(io.grpc.TlsServerCredentials.newBuilder().keyManager(keys.getKeyManagers()).build(),
                io.grpc.TlsChannelCredentials.newBuilder().trustManager(trust.getTrustManagers()).build());
        CoordinatorClient.Pulled pulled = new CoordinatorClient(channel, "tok").pull("w", -1, dir);
        assertArrayEquals(body, Files.readAllBytes(pulled.file()));
        assertEquals(java.util.HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body)), pulled.sha256());
        assertEquals(0, liveAfterShutdown(), "transport buffers never released");
    }

    @Test
    void aRefusedChunkCancelsTheStreamLeavesNoFileAndReleasesWhatWasHeld() throws Exception {
        corruptChunk = 3;
        start();
        CoordinatorClient client = new CoordinatorClient(channel, "tok");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> client.pull("w", -1, dir));
        assertEquals(Status.Code.DATA_LOSS, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("offset " + 3 * CHUNK), e.getStatus().getDescription());
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "neither the model nor its .part file is left");
        }
        assertTrue(ended.await(10, TimeUnit.SECONDS));
        assertEquals(0, liveAfterShutdown(), "transport buffers never released");
    }

    @Test
    void aStreamLongerThanItsHeaderDeclaredIsRefusedAtTheChunkThatRunsPast() throws Exception {
        understate = 12_346; // the last chunk (12,345 bytes) and one byte of the one before it do not fit
        start();
        CoordinatorClient client = new CoordinatorClient(channel, "tok");
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> client.pull("w", -1, dir));
        assertEquals(Status.Code.DATA_LOSS, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().contains("model chunk at offset " + 11 * CHUNK + " of " + CHUNK
                + " bytes runs past the " + (body.length - understate) + " bytes"), e.getStatus().getDescription());
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "neither the model nor its .part file is left");
        }
        assertEquals(0, liveAfterShutdown(), "transport buffers never released");
    }

    @Test
    void closingHalfWayCancelsTheCallAndReleasesWhatWasBuffered() throws Exception {
        start();
        ModelStream s = ModelStream.open(channel, CallOptions.DEFAULT, PullRequest.getDefaultInstance());
        assertNotNull(s.next().getHeader());
        ModelStream.Received kept = s.take(); // the caller still holds one when the stream is closed
        s.next();
        s.close();
        // 12 MiB cannot all pass the 1 MiB flow-control window before the close: the call is still open.
        assertTrue(cancel.await(10, TimeUnit.SECONDS), "the server saw the cancellation");
        assertEquals(1, cancelled.get());
        assertFalse(kept.part().getChunk().getData().isEmpty());
        kept.close();
        assertEquals(0, liveAfterShutdown(), "transport buffers never released");
    }
}
