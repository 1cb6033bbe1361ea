package dev.tributary.bench.coordinator;

import dev.tributary.bench.BenchOptions;
import picocli.CommandLine;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.store.ModelImage;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.client.BearerToken;
import dev.tributary.worker.client.CoordinatorClient;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The worker's own pull path over loopback: {@link CoordinatorClient#pull} of the whole model (chunks
 * checked against their CRC32C, digested into the whole-model SHA-256 as they arrive, written to a file
 * and verified before the rename), alternating with the bare protocol loop of {@link CoordinatorBench}
 * (chunks into a reused buffer, CRC32C and SHA-256) and with {@link RawPullCeiling} (the same bytes with no
 * protocol, into a file and into memory), beside SHA-256 alone on one core and raw loopback TCP measured in
 * the same run. One puller at a time (then, with {@code --pullers}, several at once, each on its
 * own connection); medians of the rounds.
 *
 * <p>Run: {@code java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g -cp
 * bench/target/benchmarks.jar dev.tributary.bench.coordinator.WorkerPullBench [--params N] [--rounds R] [--dir DIR]
 * [--pullers P] [--apart]} (defaults: 134,217,728 f32 parameters = 512 MiB, 5 rounds, 1 puller; with P > 1, rounds of P
 * worker pulls at once follow, the coordinator's verified pull throughput in all; with {@code --apart} the coordinator
 * runs in a child JVM and each side's CPU per GB is reported).
 */
public final class WorkerPullBench {
    private static final String TOKEN = "bench-token-0123456789";

    private WorkerPullBench() {}

    @CommandLine.Command(name = "WorkerPullBench", mixinStandardHelpOptions = true, sortOptions = false,
            description = "The worker's own verified pull over loopback.")
    static final class Options {
        @CommandLine.Option(names = "--params", description = "f32 parameters of the model (default: ${DEFAULT-VALUE})")
        long params = 134_217_728;
        @CommandLine.Option(names = "--rounds", description = "rounds (default: ${DEFAULT-VALUE})")
        int rounds = 5;
        @CommandLine.Option(names = "--pullers", description = "with more than 1, rounds of that many worker pulls at once follow (default: ${DEFAULT-VALUE})")
        int pullers = 1;
        @CommandLine.Option(names = "--dir", description = "working folder, deleted first (default: ${DEFAULT-VALUE})")
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "tributary-pull-bench");
        @CommandLine.Option(names = "--apart", description = "run the coordinator in a child JVM instead, and count each"
                + " side's CPU on its own: worker pulls only")
        boolean apart;
        @CommandLine.Option(names = "--serve-child", hidden = true, description = "the child of --apart")
        boolean serveChild;
    }

    public static void main(String[] args) throws Exception {
        Options o = BenchOptions.parse(new Options(), args);
        if (o.serveChild) {
            serveChild(o);
            return;
        }
        if (o.apart) {
            apart(o);
            return;
        }
        long params = o.params;
        int rounds = o.rounds;
        int pullers = o.pullers;
        Path dir = o.dir;
        CoordinatorBench.deleteTree(dir);
        Files.createDirectories(dir);
        TensorMap model = CoordinatorBench.model(params, 1);
        double sha = sha256GBs(256 << 20);
        double tcp = CoordinatorBench.loopbackTcp(2L << 30);
        System.out.printf(Locale.ROOT, "model: %,d f32 parameters; %d cores; SHA-256 on one core %.2f GB/s; loopback TCP"
                + " %.2f GB/s%n", params, Runtime.getRuntime().availableProcessors(), sha, tcp);
        try (Coordinator c = coordinator(dir.resolve("state"), model)) {
            ManagedChannel channel = channel(c.port());
            CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
            CoordinatorGrpc.CoordinatorBlockingStub stub = CoordinatorGrpc.newBlockingStub(channel)
                    .withCallCredentials(new BearerToken(TOKEN)).withMaxInboundMessageSize(8 << 20);
            MemorySegment into = Arena.ofAuto().allocate(model.infos().stream().mapToLong(i -> i.byteSize()).sum() + (1 << 20));
            double[] worker = new double[rounds];
            double[] bare = new double[rounds];
            double[] workerCores = new double[rounds];
            double[] workerAlloc = new double[rounds];
            double[] bareCores = new double[rounds];
            Path pulls = dir.resolve("pulls");
            long imageBytes = client.pull("bench", -1, pulls).bytes(); // warm-up: class loading, the server's image cache, JIT
            CoordinatorBench.pullOnce(stub, true, into);
            RawPullCeiling raw = new RawPullCeiling(imageBytes, ModelImage.CHUNK_BYTES);
            raw.pull(dir.resolve("raw.bin"));
            double[] rawFile = new double[rounds];
            double[] rawMemory = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                CoordinatorBench.deleteTree(pulls);
                long t0 = System.nanoTime();
                double cpu0 = CoordinatorBench.cpuSeconds();
                long alloc0 = allocatedBytes();
                CoordinatorClient.Pulled p = client.pull("bench", -1, pulls);
                double wall = (System.nanoTime() - t0) / 1e9;
                worker[r] = p.bytes() / wall / 1e9;
                workerCores[r] = (CoordinatorBench.cpuSeconds() - cpu0) / wall;
                workerAlloc[r] = (allocatedBytes() - alloc0) / (double) p.bytes();
                long t1 = System.nanoTime();
                double cpu1 = CoordinatorBench.cpuSeconds();
                long n = CoordinatorBench.pullOnce(stub, true, into);
                wall = (System.nanoTime() - t1) / 1e9;
                bare[r] = n / wall / 1e9;
                bareCores[r] = (CoordinatorBench.cpuSeconds() - cpu1) / wall;
                rawFile[r] = raw.pull(dir.resolve("raw.bin"));
                rawMemory[r] = raw.pull(null);
                System.out.printf(Locale.ROOT, "round %d: worker pull (CRC32C + SHA-256 + file) %.2f GB/s (%.2f cores busy,"
                        + " %.2f heap bytes allocated per model byte); bare loop (CRC32C + SHA-256 into memory) %.2f GB/s"
                        + " (%.2f cores); raw TCP + SHA-256, no protocol: %.2f GB/s into a file, %.2f into memory%n", r + 1,
                        worker[r], workerCores[r], workerAlloc[r], bare[r], bareCores[r], rawFile[r], rawMemory[r]);
            }
            raw.close();
            System.out.printf(Locale.ROOT, "median: worker pull %.2f GB/s (%.2f cores busy, both ends; %.2f heap bytes allocated"
                    + " per model byte, both ends), bare loop %.2f GB/s (%.2f cores); SHA-256 alone %.2f GB/s%n", median(worker),
                    median(workerCores), median(workerAlloc), median(bare), median(bareCores), sha);
            System.out.printf(Locale.ROOT, "ceiling with no protocol (raw loopback TCP, SHA-256 on a second thread): %.2f GB/s"
                    + " into a file, %.2f into memory; the worker pull is %.0f%% of the first%n", median(rawFile),
                    median(rawMemory), 100 * median(worker) / median(rawFile));
            if (pullers > 1) {
                // Workers pulling at once, each through its own CoordinatorClient and file, each verifying its
                // SHA-256 on its own digest thread: the coordinator's verified pull throughput.
                double[] together = new double[rounds];
                List<ManagedChannel> channels = new ArrayList<>();
                List<CoordinatorClient> clients = new ArrayList<>();
                for (int k = 0; k < pullers; k++) {
                    ManagedChannel ch = channel(c.port());
                    channels.add(ch);
                    clients.add(new CoordinatorClient(ch, TOKEN));
                    clients.get(k).pull("warm-" + k, -1, pulls.resolve("warm" + k)); // each connection warmed once
                }
                for (int r = 0; r < rounds; r++) {
                    CoordinatorBench.deleteTree(pulls);
                    List<Thread> threads = new ArrayList<>();
                    long[] bytes = new long[pullers];
                    Throwable[] failed = new Throwable[1];
                    long t0 = System.nanoTime();
                    for (int k = 0; k < pullers; k++) {
                        int id = k;
                        Path own = pulls.resolve("w" + k);
                        threads.add(Thread.ofPlatform().name("puller-" + k).start(() -> {
                            try {
                                bytes[id] = clients.get(id).pull("bench-" + id, -1, own).bytes();
                            } catch (Throwable t) {
                                failed[0] = t;
                            }
                        }));
                    }
                    for (Thread t : threads) {
                        t.join();
                    }
                    if (failed[0] != null) {
                        throw new IllegalStateException("a concurrent pull failed", failed[0]);
                    }
                    together[r] = Arrays.stream(bytes).sum() / ((System.nanoTime() - t0) / 1e9) / 1e9;
                    System.out.printf(Locale.ROOT, "round %d: %d worker pulls at once (CRC32C + SHA-256 + file each) %.2f GB/s"
                            + " in all%n", r + 1, pullers, together[r]);
                }
                System.out.printf(Locale.ROOT, "median: %d worker pulls at once %.2f GB/s in all%n", pullers, median(together));
                channels.forEach(ManagedChannel::shutdownNow);
            }
            channel.shutdownNow();
        }
        CoordinatorBench.deleteTree(dir);
    }

    /**
     * {@code --apart}: the coordinator runs in a child JVM (same class path, {@code -Xmx2g}), so this process's
     * CPU time is the worker's alone and the child's is the coordinator's, asked for over its stdin before and
     * after each pull. Both still share this machine's cores.
     */
    private static void apart(Options o) throws Exception {
        CoordinatorBench.deleteTree(o.dir);
        Files.createDirectories(o.dir);
        double sha = sha256GBs(256 << 20);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g", "-cp",
                System.getProperty("java.class.path"), WorkerPullBench.class.getName(), "--serve-child",
                "--params", Long.toString(o.params), "--dir", o.dir.resolve("coordinator").toString()));
        Process child = new ProcessBuilder(command).redirectError(o.dir.resolve("coordinator.err").toFile()).start();
        try (java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
                java.io.PrintWriter ask = new java.io.PrintWriter(child.getOutputStream(), true)) {
            String line = in.readLine();
            if (line == null || !line.startsWith("port ")) {
                throw new IllegalStateException("the coordinator did not start: " + Files.readString(o.dir.resolve("coordinator.err")));
            }
            ManagedChannel channel = channel(Integer.parseInt(line.substring(5)));
            CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
            Path pulls = o.dir.resolve("pulls");
            client.pull("bench", -1, pulls); // warm-up
            double[] rate = new double[o.rounds];
            double[] workerPerGB = new double[o.rounds];
            double[] coordinatorPerGB = new double[o.rounds];
            System.out.printf(Locale.ROOT, "model: %,d f32 parameters; %d cores; SHA-256 on one core %.2f GB/s; coordinator in"
                    + " a child JVM%n", o.params, Runtime.getRuntime().availableProcessors(), sha);
            for (int r = 0; r < o.rounds; r++) {
                CoordinatorBench.deleteTree(pulls);
                ask.println("cpu");
                double child0 = Double.parseDouble(in.readLine());
                double cpu0 = CoordinatorBench.cpuSeconds();
                long t0 = System.nanoTime();
                CoordinatorClient.Pulled p = client.pull("bench", -1, pulls);
                double wall = (System.nanoTime() - t0) / 1e9;
                double worker = CoordinatorBench.cpuSeconds() - cpu0;
                ask.println("cpu");
                double coordinator = Double.parseDouble(in.readLine()) - child0;
                double gb = p.bytes() / 1e9;
                rate[r] = gb / wall;
                workerPerGB[r] = worker / gb;
                coordinatorPerGB[r] = coordinator / gb;
                System.out.printf(Locale.ROOT, "round %d: worker pull %.2f GB/s; worker %.2f core-s per GB (%.2f cores busy),"
                        + " coordinator %.2f core-s per GB (%.2f cores busy)%n", r + 1, rate[r], workerPerGB[r], worker / wall,
                        coordinatorPerGB[r], coordinator / wall);
            }
            System.out.printf(Locale.ROOT, "median: worker pull %.2f GB/s; worker %.2f core-s per GB, coordinator %.2f core-s"
                    + " per GB; SHA-256 alone %.2f core-s per GB%n", median(rate), median(workerPerGB), median(coordinatorPerGB),
                    1 / sha);
            channel.shutdownNow();
        } finally {
            child.destroy();
            child.waitFor();
        }
        CoordinatorBench.deleteTree(o.dir);
    }

    /** The child of {@code --apart}: a coordinator on a free port; answers each "cpu" line with its CPU seconds. */
    private static void serveChild(Options o) throws Exception {
        Files.createDirectories(o.dir);
        try (Coordinator c = coordinator(o.dir.resolve("state"), CoordinatorBench.model(o.params, 1));
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in))) {
            System.out.println("port " + c.port());
            System.out.flush();
            for (String line; (line = in.readLine()) != null; ) {
                System.out.println(CoordinatorBench.cpuSeconds());
                System.out.flush();
            }
        }
    }

    /** The coordinator both modes pull from: fedbuff, no checkpoints in the way, a worker's window size. */
    private static Coordinator coordinator(Path state, TensorMap model) throws java.io.IOException {
        CoordinatorConfig config = CoordinatorConfig.defaults("fedbuff").withStrategyConfig(Map.of("buffer_size", 4))
                .withCheckpointEvery(1_000_000);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0),
                InsecureServerCredentials.create()).flowControlWindow(16 << 20);
        return Coordinator.start(builder, state, model, config, Tokens.of(List.of(TOKEN)),
                m -> System.err.println("warning: " + m));
    }

    /** Heap bytes allocated so far by every thread of this JVM (both ends of the pull run here). */
    private static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean())
                .getTotalThreadAllocatedBytes();
    }

    /** A plaintext connection to the coordinator on {@code port}, with a worker's message and window sizes. */
    private static ManagedChannel channel(int port) {
        return NettyChannelBuilder.forTarget("127.0.0.1:" + port, InsecureChannelCredentials.create())
                .maxInboundMessageSize(8 << 20).flowControlWindow(16 << 20).build();
    }

    static double sha256GBs(int bytes) throws Exception {
        byte[] b = new byte[2 << 20];
        new java.util.Random(1).nextBytes(b);
        List<Double> runs = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            long t = System.nanoTime();
            for (int done = 0; done < bytes; done += b.length) {
                md.update(b);
            }
            md.digest();
            runs.add(bytes / ((System.nanoTime() - t) / 1e9) / 1e9);
        }
        return runs.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
