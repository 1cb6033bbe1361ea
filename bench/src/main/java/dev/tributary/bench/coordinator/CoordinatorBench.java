package dev.tributary.bench.coordinator;

import dev.tributary.bench.BenchOptions;
import picocli.CommandLine;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.client.BearerToken;
import dev.tributary.worker.client.CoordinatorClient;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;

/**
 * Coordinator throughput over loopback with a large f32 model, each figure beside the physical limit it
 * runs into, measured in the same run: update ingest with fsync durability against the disk's own
 * append+fsync bandwidth at the same record size, and PullModel against memory copy and raw loopback
 * TCP bandwidth.
 *
 * <p>Run: {@code java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx6g -cp
 * bench/target/benchmarks.jar dev.tributary.bench.coordinator.CoordinatorBench [--params N] [--seconds S]
 * [--pushers P] [--pullers Q] [--dir DIR]}
 */
public final class CoordinatorBench {
    private static final String TOKEN = "bench-token-0123456789";

    private CoordinatorBench() {}

    @CommandLine.Command(name = "CoordinatorBench", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Update ingest and PullModel over loopback.")
    static final class Options {
        @CommandLine.Option(names = "--params", description = "f32 parameters of the model (default: ${DEFAULT-VALUE})")
        long params = 25_000_000;
        @CommandLine.Option(names = "--seconds", description = "seconds of update ingest; each of the two pull phases runs half as long (default: ${DEFAULT-VALUE})")
        int seconds = 20;
        @CommandLine.Option(names = "--pushers", description = "workers pushing at once (default: ${DEFAULT-VALUE})")
        int pushers = 3;
        @CommandLine.Option(names = "--pullers", description = "workers pulling at once (default: ${DEFAULT-VALUE})")
        int pullers = 2;
        @CommandLine.Option(names = "--dir", description = "working folder, deleted first (default: ${DEFAULT-VALUE})")
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "tributary-coordinator-bench");
    }

    public static void main(String[] args) throws Exception {
        Options o = BenchOptions.parse(new Options(), args);
        deleteTree(o.dir);
        Files.createDirectories(o.dir);
        TensorMap model = model(o.params, 1);
        TensorMap delta = model(o.params, 2);
        Path deltaFile = o.dir.resolve("delta.safetensors");
        Safetensors.write(deltaFile, delta);
        long recordBytes = Files.size(deltaFile);
        System.out.printf(Locale.ROOT, "model: %,d f32 parameters, update %.1f MB; %d cores; %s%n", o.params, recordBytes / 1e6,
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"));

        double diskRecord = diskAppendFsync(o.dir.resolve("disk-probe"), recordBytes, 8);
        double disk4m = diskAppendFsync(o.dir.resolve("disk-probe"), 4 << 20, 200);
        double memcpy = memcpy(recordBytes);
        double tcp = loopbackTcp(2L << 30);
        System.out.printf(Locale.ROOT, "limits: disk append+fsync %.0f MB/s (records of %.0f MB), %.0f MB/s (4 MB); memcpy %.1f GB/s;"
                + " loopback TCP %.2f GB/s%n", diskRecord, recordBytes / 1e6, disk4m, memcpy, tcp);

        CoordinatorConfig config = CoordinatorConfig.defaults("fedbuff")
                .withStrategyConfig(Map.of("buffer_size", 4))
                .withCheckpointEvery(1_000_000);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
                InsecureServerCredentials.create()).flowControlWindow(16 << 20);
        try (Coordinator c = Coordinator.start(builder, o.dir.resolve("state"), model, config, Tokens.of(List.of(TOKEN)),
                m -> System.out.println("warning: " + m))) {
            ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:" + c.port(), InsecureChannelCredentials.create())
                    .maxInboundMessageSize(8 << 20).flowControlWindow(16 << 20).build();
            Result ingest = ingest(channel, deltaFile, o.pushers, o.seconds);
            // The disk is probed again right after, and the two probes averaged: its speed drifts.
            double diskAfter = diskAppendFsync(o.dir.resolve("disk-probe"), recordBytes, 8);
            double disk = (diskRecord + diskAfter) / 2;
            System.out.printf(Locale.ROOT, "ingest: %d pushers, %d updates in %.1f s: %.0f MB/s = %.0f%% of disk append+fsync"
                    + " (%.0f MB/s before, %.0f after); %.2f cores busy, %.1f ms of CPU per MB%n", o.pushers, ingest.count,
                    ingest.seconds, ingest.mbPerSecond(), 100 * ingest.mbPerSecond() / disk, diskRecord, diskAfter,
                    ingest.cores, 1000 * ingest.cores / ingest.mbPerSecond());
            Result pullVerified = pull(channel, o.pullers, o.seconds / 2, true);
            Result pullCrc = pull(channel, o.pullers, o.seconds / 2, false);
            double tcpAfter = loopbackTcp(2L << 30);
            System.out.printf(Locale.ROOT, "pull: %d pullers, %d pulls: %.2f GB/s with CRC32C + SHA-256 checks (%.2f cores),"
                    + " %.2f GB/s with CRC32C only (%.2f cores) = %.0f%% of loopback TCP (%.2f GB/s before, %.2f after)%n",
                    o.pullers, pullVerified.count + pullCrc.count, pullVerified.mbPerSecond() / 1000, pullVerified.cores,
                    pullCrc.mbPerSecond() / 1000, pullCrc.cores, 100 * pullCrc.mbPerSecond() / 1000 / ((tcp + tcpAfter) / 2),
                    tcp, tcpAfter);
            channel.shutdownNow();
        }
        deleteTree(o.dir);
    }

    /** A model of {@code params} f32 values in tensors of at most 4M elements, values from {@code seed}. */
    static TensorMap model(long params, long seed) {
        TensorMap m = new TensorMap();
        SplittableRandom r = new SplittableRandom(seed);
        long left = params;
        for (int i = 0; left > 0; i++) {
            long n = Math.min(left, 4_000_000);
            Tensor t = Tensor.allocate(dev.tributary.tensor.DType.F32, new long[] {n}, Arena.ofAuto());
            for (long k = 0; k < n; k++) {
                t.data().setAtIndex(Tensor.F32_LE, k, (float) (r.nextDouble() - 0.5) * 1e-3f);
            }
            m.put("layer." + i + ".weight", t);
            left -= n;
        }
        return m;
    }

    /** Sequential append of {@code count} records of {@code size} bytes, each followed by fdatasync: MB/s. */
    static double diskAppendFsync(Path file, long size, int count) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect((int) Math.min(size, 64 << 20));
        SplittableRandom r = new SplittableRandom(7);
        while (buf.hasRemaining()) {
            buf.put((byte) r.nextInt());
        }
        Files.deleteIfExists(file);
        long t0 = System.nanoTime();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int i = 0; i < count; i++) {
                for (long left = size; left > 0; ) {
                    buf.clear().limit((int) Math.min(left, buf.capacity()));
                    left -= ch.write(buf);
                }
                ch.force(false);
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        Files.delete(file);
        return size * (double) count / s / 1e6;
    }

    /** Single-thread copy bandwidth between two off-heap buffers of {@code size} bytes: GB/s. */
    static double memcpy(long size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment x = a.allocate(size, 64);
            MemorySegment y = a.allocate(size, 64);
            x.fill((byte) 1);
            y.copyFrom(x);
            long t0 = System.nanoTime();
            int reps = 10;
            for (int i = 0; i < reps; i++) {
                y.copyFrom(x);
            }
            return size * (double) reps / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
    }

    /** One TCP stream over loopback, plain sockets, 1 MiB writes: GB/s. */
    static double loopbackTcp(long bytes) throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Thread sender = Thread.ofPlatform().start(() -> {
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
                        OutputStream out = s.getOutputStream()) {
                    byte[] b = new byte[1 << 20];
                    for (long left = bytes; left > 0; left -= b.length) {
                        out.write(b, 0, (int) Math.min(b.length, left));
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            });
            long t0 = System.nanoTime();
            long got = 0;
            try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
                byte[] b = new byte[1 << 20];
                for (int n; (n = in.read(b)) > 0; ) {
                    got += n;
                }
            }
            sender.join();
            return got / ((System.nanoTime() - t0) / 1e9) / 1e9;
        }
    }

    record Result(long count, long bytes, double seconds, double cores) {
        double mbPerSecond() {
            return bytes / seconds / 1e6;
        }
    }

    static double cpuSeconds() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }

    /** {@code pushers} threads push the same delta under fresh ids for {@code seconds}, after a warm-up. */
    static Result ingest(ManagedChannel channel, Path deltaFile, int pushers, int seconds) throws Exception {
        long size = Files.size(deltaFile);
        AtomicLong acked = new AtomicLong();
        AtomicLong version = new AtomicLong();
        long warmupEnd = System.nanoTime() + 3_000_000_000L;
        long end = warmupEnd + seconds * 1_000_000_000L;
        AtomicLong counted = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < pushers; p++) {
            threads.add(Thread.ofPlatform().start(() -> {
                CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
                while (System.nanoTime() < end) {
                    try {
                        PushAck ack = client.push(new CoordinatorClient.Update(UUID.randomUUID().toString(), "bench",
                                version.get(), 100, 1, Map.of(), deltaFile));
                        version.accumulateAndGet(ack.getVersion(), Math::max);
                        long now = System.nanoTime();
                        if (now > warmupEnd && now <= end) {
                            counted.incrementAndGet();
                        }
                        acked.incrementAndGet();
                    } catch (IOException | RuntimeException e) {
                        System.out.println("push failed: " + e);
                    }
                }
            }));
        }
        while (System.nanoTime() < warmupEnd) {
            Thread.sleep(10);
        }
        double cpu0 = cpuSeconds();
        long t0 = System.nanoTime();
        for (Thread t : threads) {
            t.join();
        }
        double s = Math.min(System.nanoTime(), end) - t0;
        double cpu = cpuSeconds() - cpu0;
        return new Result(counted.get(), counted.get() * size, s / 1e9, cpu / (s / 1e9));
    }

    /** {@code pullers} threads pull the whole model again and again for {@code seconds}. */
    static Result pull(ManagedChannel channel, int pullers, int seconds, boolean sha) throws Exception {
        CoordinatorGrpc.CoordinatorBlockingStub stub = CoordinatorGrpc.newBlockingStub(channel)
                .withCallCredentials(new BearerToken(TOKEN)).withMaxInboundMessageSize(8 << 20);
        pullOnce(stub, sha, Arena.ofAuto().allocate(1, 1));
        AtomicLong bytes = new AtomicLong();
        AtomicLong pulls = new AtomicLong();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        double cpu0 = cpuSeconds();
        long t0 = System.nanoTime();
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < pullers; p++) {
            threads.add(Thread.ofPlatform().start(() -> {
                MemorySegment into = Arena.ofAuto().allocate(1, 1);
                while (System.nanoTime() < end) {
                    long n = pullOnce(stub, sha, into);
                    if (into.byteSize() < n) {
                        into = Arena.ofAuto().allocate(n, 64);
                        n = pullOnce(stub, sha, into);
                    }
                    bytes.addAndGet(n);
                    pulls.incrementAndGet();
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        return new Result(pulls.get(), bytes.get(), s, (cpuSeconds() - cpu0) / s);
    }

    /**
     * One full pull into {@code into} (a reused buffer, as a worker would keep one), each chunk checked
     * against its CRC32C, the whole against the SHA-256; a buffer too small only reads the header.
     *
     * @return the model's size
     */
    static long pullOnce(CoordinatorGrpc.CoordinatorBlockingStub stub, boolean sha, MemorySegment into) {
        Iterator<ModelPart> it = stub.pullModel(PullRequest.newBuilder().setKnownVersion(-1).build());
        ModelHeader h = it.next().getHeader();
        if (into.byteSize() < h.getTotalBytes()) {
            while (it.hasNext()) {
                it.next();
            }
            return h.getTotalBytes();
        }
        MessageDigest md = sha ? sha256() : null;
        CRC32C crc = new CRC32C();
        long at = 0;
        byte[] scratch = new byte[0];
        while (it.hasNext()) {
            Chunk c = it.next().getChunk();
            int n = c.getData().size();
            if (scratch.length < n) {
                scratch = new byte[n];
            }
            c.getData().copyTo(scratch, 0);
            crc.reset();
            crc.update(scratch, 0, n);
            if ((int) crc.getValue() != c.getCrc32C() || c.getOffset() != at) {
                throw new IllegalStateException("bad chunk at " + at);
            }
            if (md != null) {
                md.update(scratch, 0, n);
            }
            MemorySegment.copy(scratch, 0, into, java.lang.foreign.ValueLayout.JAVA_BYTE, at, n);
            at += n;
        }
        if (at != h.getTotalBytes() || (md != null && !MessageDigest.isEqual(md.digest(), h.getSha256().toByteArray()))) {
            throw new IllegalStateException("pulled model does not match its header");
        }
        return at;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
