package dev.tributary.bench.coordinator;

import dev.tributary.bench.BenchOptions;
import picocli.CommandLine;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.coordinator.http.StatusServer;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.client.BearerToken;
import dev.tributary.worker.client.CoordinatorClient;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/**
 * The coordinator's resident memory under hostile and heavy push load, measured from outside: a
 * coordinator (the same Netty server and HTTP status as {@code tributary serve}) runs in a child JVM with
 * a large f32 model, and this process reads its VmRSS from {@code /proc/PID/status}.
 *
 * <ul>
 *   <li>{@code headers}: fedasync; S header-only push streams from one token, each declaring an update of
 *       the model's size, held open until the idle deadline cuts them, while an honest worker on another
 *       token pushes real updates. RSS is sampled every 250 ms.</li>
 *   <li>{@code soak}: fedbuff (buffer_size 4); P pushers push real updates as fast as the coordinator takes
 *       them (waiting out busy answers) for the given seconds; RSS and the receive memory gauges every
 *       second, to a CSV and a PNG.</li>
 * </ul>
 *
 * <p>Run: {@code java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * bench/target/benchmarks.jar dev.tributary.bench.coordinator.MemoryBench [--params N] [--streams S]
 * [--pushers P] [--soak-seconds T] [--xmx SIZE] [--child-flags "JVM FLAGS"] [--dir DIR] [--out DIR]}; {@code
 * --streams 0} skips the header-only run.
 */
public final class MemoryBench {
    private static final String HONEST = "bench-honest-token-0123456789";
    private static final String HOSTILE = "bench-hostile-token-0123456789";
    private static final Pattern GAUGE = Pattern.compile("^(tributary_[a-z_]+)(\\{[^}]*\\})? ([-0-9.eE+]+)$", Pattern.MULTILINE);

    private static List<String> jvm;

    private MemoryBench() {}

    @CommandLine.Command(name = "MemoryBench", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Coordinator memory under hostile and heavy push load, in a child JVM.")
    static final class Options {
        @CommandLine.Option(names = "--params", description = "f32 parameters of the model (default: ${DEFAULT-VALUE})")
        long params = 25_000_000;
        @CommandLine.Option(names = "--streams", description = "header-only push streams; 0 skips the phase (default: ${DEFAULT-VALUE})")
        int streams = 1000;
        @CommandLine.Option(names = "--pushers", description = "pushers in the soak (default: ${DEFAULT-VALUE})")
        int pushers = 16;
        @CommandLine.Option(names = "--soak-seconds", description = "length of the soak; 0 skips it (default: ${DEFAULT-VALUE})")
        int soakSeconds = 0;
        @CommandLine.Option(names = "--xmx", description = "the child JVM's heap (default: ${DEFAULT-VALUE})")
        String xmx = "1g";
        @CommandLine.Option(names = "--child-flags", description = "more flags for the child JVM, space-separated (default: none)")
        String childFlags = "";
        @CommandLine.Option(names = "--dir", description = "working folder, deleted first (default: ${DEFAULT-VALUE})")
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "tributary-memory-bench");
        @CommandLine.Option(names = "--out", description = "where the CSV and plot go (default: ${DEFAULT-VALUE})")
        Path out = Path.of("bench/results");
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("serve")) {
            serve(Path.of(args[1]), args[2]);
            return;
        }
        Options o = BenchOptions.parse(new Options(), args);
        CoordinatorBench.deleteTree(o.dir);
        Files.createDirectories(o.dir);
        Files.createDirectories(o.out);
        TensorMap model = CoordinatorBench.model(o.params, 1);
        Safetensors.write(o.dir.resolve("init.safetensors"), model);
        Safetensors.write(o.dir.resolve("delta.safetensors"), CoordinatorBench.model(o.params, 2));
        Files.writeString(o.dir.resolve("tokens"), HONEST + "\n" + HOSTILE + "\n");
        long deltaBytes = Files.size(o.dir.resolve("delta.safetensors"));
        System.out.printf(Locale.ROOT, "model: %,d f32 parameters, update %.1f MB; %d cores%n", o.params,
                deltaBytes / 1e6, Runtime.getRuntime().availableProcessors());
        jvm = new ArrayList<>(List.of("-Xmx" + o.xmx, "-XX:MaxDirectMemorySize=4g", "-XX:NativeMemoryTracking=summary"));
        jvm.addAll(o.childFlags.isBlank() ? List.of() : List.of(o.childFlags.strip().split("\\s+")));
        System.out.println("child JVM flags: " + String.join(" ", jvm));
        if (o.streams > 0) {
            headers(o.dir, o.streams, deltaBytes);
        }
        if (o.soakSeconds > 0) {
            soak(o.dir, o.pushers, o.soakSeconds, o.out);
        }
    }

    /** The child: a coordinator over Netty with the HTTP status server, until killed. */
    private static void serve(Path dir, String configName) throws Exception {
        TensorMap model = Safetensors.readAll(dir.resolve("init.safetensors"));
        Path configFile = dir.resolve(configName + ".yaml");
        String strategy = Files.readAllLines(configFile).getFirst().replace("# strategy ", "").strip();
        CoordinatorConfig config = CoordinatorConfig.fromYaml(strategy, configFile);
        Path state = dir.resolve("state-" + configName);
        Coordinator c = Coordinator.start(Coordinator.netty(new InetSocketAddress("127.0.0.1", 0),
                InsecureServerCredentials.create()), state, model, config, Tokens.read(dir.resolve("tokens")),
                m -> System.err.println("warning: " + m));
        StatusServer http = StatusServer.start(new InetSocketAddress("127.0.0.1", 0), c);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            http.close();
            try {
                c.close();
            } catch (IOException e) {
                System.err.println("warning: stopping: " + e.getMessage());
            }
        }));
        System.out.println("ports " + c.port() + " " + http.port() + " budget " + c.memoryBudget());
        System.out.flush();
        c.awaitTermination();
    }

    /** A running child coordinator. */
    private record Child(Process process, int grpcPort, int httpPort, long budget) implements AutoCloseable {
        long rss() throws IOException {
            for (String line : Files.readAllLines(Path.of("/proc/" + process.pid() + "/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
            throw new IOException("no VmRSS for " + process.pid());
        }

        /** The coordinator's gauges and counters, name{labels} → value. */
        Map<String, Double> metrics() throws IOException, InterruptedException {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + httpPort + "/metrics")).build(), HttpResponse.BodyHandlers.ofString());
            Map<String, Double> m = new ConcurrentHashMap<>();
            Matcher x = GAUGE.matcher(r.body());
            while (x.find()) {
                m.put(x.group(1) + (x.group(2) == null ? "" : x.group(2)), Double.parseDouble(x.group(3)));
            }
            return m;
        }

        /** Committed memory by NMT category, the largest first, in MiB. */
        String nativeMemory() throws IOException, InterruptedException {
            String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
            Process p = new ProcessBuilder(jcmd, Long.toString(process.pid()), "VM.native_memory", "summary", "scale=MB")
                    .redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes());
            p.waitFor();
            Matcher x = Pattern.compile("^-\\s+(\\S[^(]*?)\\s*\\(reserved=\\d+MB, committed=(\\d+)MB\\)", Pattern.MULTILINE).matcher(text);
            List<Map.Entry<String, Integer>> parts = new ArrayList<>();
            while (x.find()) {
                parts.add(Map.entry(x.group(1).strip(), Integer.parseInt(x.group(2))));
            }
            parts.sort(Map.Entry.<String, Integer>comparingByValue().reversed());
            return parts.stream().limit(6).map(e -> e.getKey() + " " + e.getValue()).reduce((a, b) -> a + ", " + b).orElse(text);
        }

        ManagedChannel channel() {
            return NettyChannelBuilder.forTarget("127.0.0.1:" + grpcPort, InsecureChannelCredentials.create())
                    .maxInboundMessageSize(8 << 20).flowControlWindow(16 << 20).build();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }

    private static Child start(Path dir, String name, String yaml) throws IOException {
        Files.writeString(dir.resolve(name + ".yaml"), yaml);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--add-modules=jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED"));
        command.addAll(jvm);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), MemoryBench.class.getName(), "serve",
                dir.toString(), name));
        Process p = new ProcessBuilder(command)
                .redirectError(dir.resolve(name + ".err").toFile()).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
        String line = r.readLine();
        if (line == null || !line.startsWith("ports ")) {
            p.destroyForcibly();
            throw new IOException("the coordinator did not start: " + Files.readString(dir.resolve(name + ".err")));
        }
        String[] f = line.split(" ");
        Thread.ofVirtual().start(() -> r.lines().forEach(System.out::println));
        return new Child(p, Integer.parseInt(f[1]), Integer.parseInt(f[2]), Long.parseLong(f[4]));
    }

    private static void headers(Path dir, int streams, long deltaBytes) throws Exception {
        try (Child c = start(dir, "headers", "# strategy fedasync\nmax_push_streams_per_token: " + (2 * streams)
                + "\npush_idle_timeout_seconds: 30\ncheckpoint_every: 1000000\n")) {
            long idle = c.rss();
            Pusher honest = new Pusher(c, HONEST, dir.resolve("delta.safetensors"));
            honest.pushUntil(3);
            long baseline = c.rss();
            System.out.printf(Locale.ROOT, "headers: budget %.0f MiB; RSS %.0f MiB idle, %.0f MiB after 3 honest pushes (baseline)%n",
                    c.budget() / 1048576.0, idle / 1048576.0, baseline / 1048576.0);
            List<ManagedChannel> channels = new ArrayList<>();
            List<Status> ends = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch ended = new CountDownLatch(streams);
            long t0 = System.nanoTime();
            for (int i = 0; i < streams; i++) {
                if (i % 100 == 0) {
                    channels.add(c.channel());
                }
                StreamObserver<UpdatePart> s = CoordinatorGrpc.newStub(channels.getLast())
                        .withCallCredentials(new BearerToken(HOSTILE)).pushUpdate(new StreamObserver<>() {
                            @Override
                            public void onNext(PushAck v) {}

                            @Override
                            public void onError(Throwable t) {
                                ends.add(Status.fromThrowable(t));
                                ended.countDown();
                            }

                            @Override
                            public void onCompleted() {
                                ends.add(Status.OK);
                                ended.countDown();
                            }
                        });
                s.onNext(UpdatePart.newBuilder().setHeader(UpdateHeader.newBuilder().setUpdateId(UUID.randomUUID().toString())
                        .setWorkerId("hostile-" + i).setBaseVersion(0).setExamples(1).setDeltaBytes(deltaBytes)).build());
            }
            Thread.sleep(2000);
            Map<String, Double> m = c.metrics();
            System.out.printf(Locale.ROOT, "headers: %d header-only streams open after %.1f s: %.0f receiving, %.0f bytes committed%n",
                    streams, (System.nanoTime() - t0) / 1e9, m.getOrDefault("tributary_push_streams_receiving", -1.0),
                    m.getOrDefault("tributary_receive_memory_committed_bytes", -1.0));
            AtomicLong peak = new AtomicLong(c.rss());
            AtomicBoolean sampling = new AtomicBoolean(true);
            Thread sampler = Thread.ofPlatform().start(() -> {
                while (sampling.get()) {
                    try {
                        peak.accumulateAndGet(c.rss(), Math::max);
                        Thread.sleep(250);
                    } catch (IOException | InterruptedException e) {
                        return;
                    }
                }
            });
            long before = honest.acks.get();
            long pushT0 = System.nanoTime();
            while (ended.getCount() > 0 && System.nanoTime() - pushT0 < 25e9) {
                honest.pushUntil(honest.acks.get() + 1);
            }
            long pushed = honest.acks.get() - before;
            System.out.println("headers: NMT committed MiB (largest): " + c.nativeMemory());
            double pushSeconds = (System.nanoTime() - pushT0) / 1e9;
            ended.await(60, TimeUnit.SECONDS);
            sampling.set(false);
            sampler.join();
            Map<Status.Code, Integer> byCode = new java.util.TreeMap<>();
            ends.forEach(s -> byCode.merge(s.getCode(), 1, Integer::sum));
            m = c.metrics();
            System.out.printf(Locale.ROOT, "headers: honest worker: %d pushes acked in %.1f s beside them (%.0f MB/s), %d busy answers,"
                    + " %d failures; RSS peak %.0f MiB = baseline + %.0f MiB (budget %.0f MiB); streams ended: %s;"
                    + " refused idle_timeout %.0f%n", pushed, pushSeconds, pushed * deltaBytes / 1e6 / pushSeconds, honest.busy.get(),
                    honest.failures.get(), peak.get() / 1048576.0, (peak.get() - baseline) / 1048576.0, c.budget() / 1048576.0,
                    byCode, m.getOrDefault("tributary_updates_refused_total{reason=\"idle_timeout\"}", 0.0));
            channels.forEach(ManagedChannel::shutdownNow);
            honest.close();
        }
    }

    private static void soak(Path dir, int pushers, int seconds, Path out) throws Exception {
        // The coordinator's defaults otherwise: a checkpoint every 20 publishes, the log compacted behind them.
        try (Child c = start(dir, "soak", "# strategy fedbuff\nstrategy:\n  buffer_size: 4\n")) {
            Path log = dir.resolve("state-soak").resolve(dev.tributary.store.StateDirectory.LOG);
            long baseline = c.rss();
            List<Pusher> ps = new ArrayList<>();
            AtomicBoolean running = new AtomicBoolean(true);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < pushers; i++) {
                Pusher p = new Pusher(c, HONEST, dir.resolve("delta.safetensors"));
                ps.add(p);
                threads.add(Thread.ofPlatform().start(() -> {
                    while (running.get()) {
                        p.pushUntil(p.acks.get() + 1);
                    }
                }));
            }
            Path csv = out.resolve("memory-soak.csv");
            List<Double> t = new ArrayList<>();
            List<Double> rss = new ArrayList<>();
            List<Double> committed = new ArrayList<>();
            List<Double> logGiB = new ArrayList<>();
            List<Double> logDiskGiB = new ArrayList<>();
            long t0 = System.nanoTime();
            try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv))) {
                w.println("seconds,rss_mib,committed_mib,pooled_mib,acks,busy,log_mib,log_on_disk_mib");
                for (int s = 0; s <= seconds; s++) {
                    long next = t0 + s * 1_000_000_000L;
                    Thread.sleep(Math.max(0, (next - System.nanoTime()) / 1_000_000));
                    Map<String, Double> m = c.metrics();
                    double r = c.rss() / 1048576.0;
                    double cm = m.getOrDefault("tributary_receive_memory_committed_bytes", 0.0) / 1048576.0;
                    long acks = ps.stream().mapToLong(p -> p.acks.get()).sum();
                    long busy = ps.stream().mapToLong(p -> p.busy.get()).sum();
                    long[] logBytes = logSize(log);
                    w.printf(Locale.ROOT, "%d,%.1f,%.1f,%.1f,%d,%d,%.1f,%.1f%n", s, r, cm,
                            m.getOrDefault("tributary_receive_memory_pooled_bytes", 0.0) / 1048576.0, acks, busy,
                            logBytes[0] / 1048576.0, logBytes[1] / 1048576.0);
                    w.flush();
                    logGiB.add(logBytes[0] / (double) (1L << 30));
                    logDiskGiB.add(logBytes[1] / (double) (1L << 30));
                    t.add((double) s);
                    rss.add(r);
                    committed.add(cm);
                }
            }
            running.set(false);
            for (Thread th : threads) {
                th.join();
            }
            System.out.println("soak: NMT committed MiB (largest): " + c.nativeMemory());
            long acks = ps.stream().mapToLong(p -> p.acks.get()).sum();
            long busy = ps.stream().mapToLong(p -> p.busy.get()).sum();
            long failures = ps.stream().mapToLong(p -> p.failures.get()).sum();
            long deltaBytes = Files.size(dir.resolve("delta.safetensors"));
            double firstMinute = rss.subList(0, Math.min(rss.size(), 61)).stream().mapToDouble(x -> x).max().orElse(0);
            double lastMinute = rss.subList(Math.max(0, rss.size() - 60), rss.size()).stream().mapToDouble(x -> x).max().orElse(0);
            System.out.printf(Locale.ROOT, "soak: %d pushers, %d s: %d acks (%.0f MB/s), %d busy answers, %d failures;"
                    + " RSS baseline %.0f MiB, max %.0f MiB, max in the first minute %.0f, in the last %.0f; budget %.0f MiB%n",
                    pushers, seconds, acks, acks * deltaBytes / 1e6 / seconds, busy, failures, baseline / 1048576.0,
                    rss.stream().mapToDouble(x -> x).max().orElse(0), firstMinute, lastMinute, c.budget() / 1048576.0);
            XYChart chart = new XYChartBuilder().width(900).height(500)
                    .title(String.format(Locale.ROOT, "coordinator memory, fedbuff, %d pushers of %.0f MB updates", pushers, deltaBytes / 1e6))
                    .xAxisTitle("seconds").yAxisTitle("MiB").build();
            chart.addSeries("RSS (VmRSS)", t, rss);
            chart.addSeries("receive memory committed", t, committed);
            List<Double> budget = Collections.nCopies(t.size(), c.budget() / 1048576.0);
            chart.addSeries("receive budget", t, budget);
            List<Double> bound = Collections.nCopies(t.size(), (baseline + c.budget()) / 1048576.0);
            chart.addSeries("baseline + budget", t, bound);
            BitmapEncoder.saveBitmap(chart, out.resolve("memory-soak.png").toString(), BitmapEncoder.BitmapFormat.PNG);
            XYChart disk = new XYChartBuilder().width(900).height(500)
                    .title(String.format(Locale.ROOT, "update log, fedbuff, %d pushers of %.0f MB updates", pushers, deltaBytes / 1e6))
                    .xAxisTitle("seconds").yAxisTitle("GiB").build();
            disk.addSeries("log written (file size)", t, logGiB);
            disk.addSeries("log on disk (allocated blocks)", t, logDiskGiB);
            BitmapEncoder.saveBitmap(disk, out.resolve("memory-soak-log.png").toString(), BitmapEncoder.BitmapFormat.PNG);
            System.out.printf(Locale.ROOT, "soak: update log written %.1f GiB, on disk at most %.2f GiB (at the end %.2f)%n",
                    logGiB.getLast(), logDiskGiB.stream().mapToDouble(x -> x).max().orElse(0), logDiskGiB.getLast());
            System.out.println("soak: wrote " + csv + ", " + out.resolve("memory-soak.png") + " and " + out.resolve("memory-soak-log.png"));
            ps.forEach(Pusher::close);
        }
    }

    /** The file's size and the bytes of its allocated blocks ({@code stat}); zeros while it does not exist. */
    private static long[] logSize(Path file) throws IOException, InterruptedException {
        if (!Files.exists(file)) {
            return new long[2];
        }
        Process p = new ProcessBuilder("stat", "-c", "%s %b %B", file.toString()).redirectErrorStream(true).start();
        String[] f = new String(p.getInputStream().readAllBytes()).strip().split(" ");
        if (p.waitFor() != 0 || f.length != 3) {
            return new long[2];
        }
        return new long[] {Long.parseLong(f[0]), Long.parseLong(f[1]) * Long.parseLong(f[2])};
    }

    /** An honest worker: pushes the delta file again and again, waiting out busy answers. */
    private static final class Pusher implements AutoCloseable {
        private static final Metadata.Key<String> PUSHBACK = Metadata.Key.of("grpc-retry-pushback-ms", Metadata.ASCII_STRING_MARSHALLER);
        final AtomicLong acks = new AtomicLong();
        final AtomicLong busy = new AtomicLong();
        final AtomicLong failures = new AtomicLong();
        private final ManagedChannel channel;
        private final CoordinatorClient client;
        private final Path delta;
        private final String workerId;
        private long base;

        Pusher(Child c, String token, Path delta) {
            this.channel = c.channel();
            this.client = new CoordinatorClient(channel, token);
            this.delta = delta;
            var r = client.register("bench", dev.tributary.protocol.Capabilities.getDefaultInstance());
            this.workerId = r.getWorkerId();
            this.base = r.getVersion();
        }

        void pushUntil(long target) {
            String id = UUID.randomUUID().toString();
            while (acks.get() < target) {
                try {
                    PushAck a = client.push(new CoordinatorClient.Update(id, workerId, base, 10, 1, Map.of(), delta));
                    base = a.getVersion();
                    acks.incrementAndGet();
                    id = UUID.randomUUID().toString();
                } catch (StatusRuntimeException e) {
                    Metadata tr = e.getTrailers();
                    String pb = tr == null ? null : tr.get(PUSHBACK);
                    if (pb == null && failures.incrementAndGet() <= 3) {
                        System.out.println("push failed: " + e.getStatus());
                    }
                    if (pb != null) {
                        busy.incrementAndGet();
                    }
                    long wait = pb == null ? 200 : Long.parseLong(pb);
                    try {
                        Thread.sleep(wait + ThreadLocalRandom.current().nextLong(wait / 2 + 1));
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
        }

        @Override
        public void close() {
            channel.shutdownNow();
        }
    }
}
