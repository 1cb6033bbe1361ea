package dev.tributary.bench.coordinator;

import dev.tributary.bench.BenchOptions;
import picocli.CommandLine;
import dev.tributary.codec.Codec;
import dev.tributary.coordinator.Coordinator;
import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.fmnist.FashionMnistTask;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import dev.tributary.worker.client.CoordinatorClient;
import dev.tributary.worker.client.DeltaEncoder;
import dev.tributary.worker.client.WireOptions;
import io.grpc.InsecureChannelCredentials;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import io.grpc.InsecureServerCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * Bytes on the wire for real Fashion-MNIST deltas over the real protocol (loopback gRPC): per push codec,
 * the bytes of each push against the safetensors delta it decodes to and the coordinator's decode time;
 * then, on the versions those pushes publish, pull-delta bytes against the whole model's, for consecutive
 * versions and for versions three apart.
 *
 * <p>Run: {@code java --add-modules=jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp
 * bench/target/benchmarks.jar dev.tributary.bench.coordinator.WireBench [--rounds N] [--steps H] [--dir DIR]}
 */
public final class WireBench {
    private static final String TOKEN = "bench-token-0123456789";
    static final List<String> CODECS = List.of("safetensors", "f16", "bf16", "fp8", "int8:group=64", "int4:group=64",
            "topk:fraction=0.1", "topk:fraction=0.01+int8", "lossless:level=3");

    private WireBench() {}

    @CommandLine.Command(name = "WireBench", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Push and pull bytes over the real protocol, per codec.")
    static final class Options {
        @CommandLine.Option(names = "--rounds", description = "fmnist-mlp deltas to train and send (default: ${DEFAULT-VALUE})")
        int rounds = 8;
        @CommandLine.Option(names = "--steps", description = "local training steps per round (default: ${DEFAULT-VALUE})")
        int steps = 50;
        @CommandLine.Option(names = "--dir", description = "working folder, deleted first (default: ${DEFAULT-VALUE})")
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "tributary-wire-bench");
    }

    public static void main(String[] args) throws Exception {
        Options o = BenchOptions.parse(new Options(), args);
        int rounds = o.rounds;
        int steps = o.steps;
        Path dir = o.dir;
        CoordinatorBench.deleteTree(dir);
        Files.createDirectories(dir);
        FashionMnistTask task = FashionMnistTask.mlp();
        TensorMap init = task.initialModel(0);
        List<TensorMap> deltas = new ArrayList<>();
        System.err.printf(Locale.ROOT, "training %d fmnist-mlp deltas of %d steps each (DJL/PyTorch)...%n", rounds, steps);
        try (LocalTrainer trainer = task.trainer(0, 4, 0)) {
            TensorMap w = init;
            for (int r = 0; r < rounds; r++) {
                TrainResult t = trainer.train(w, TrainPlan.steps(steps, r));
                deltas.add(t.delta());
                w = add(w, t.delta());
                System.err.printf(Locale.ROOT, "  delta %d/%d trained (loss %.3f)%n", r + 1, rounds, t.metrics().getOrDefault("loss", Double.NaN));
            }
        }
        System.out.println("| codec | bytes per push (median) | decoded bytes | ratio | coordinator decode ms, mean of "
                + rounds + " (cold) | decode ms, median of 50 warm | pull, consecutive versions (median) "
                + "| pull, 3 versions apart | whole model |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        List<Result> results = new ArrayList<>();
        for (String spec : CODECS) {
            System.err.println("codec " + spec + ": " + rounds + " pushes and pulls over loopback...");
            Result r = run(spec, init, deltas, dir.resolve(spec.replaceAll("[^a-z0-9]", "_")));
            results.add(r);
            System.out.println(r.row());
        }
        Path png = dir.resolve("wire-bytes.png");
        plot(results, png);
        System.err.println("plot: " + png);
    }

    /** One codec's figures. */
    record Result(String spec, long pushBytes, long decodedBytes, double ratio, double coldDecodeMillis,
            double warmDecodeMillis, long pullConsecutive, long pullApart, long whole) {
        String row() {
            return String.format(Locale.ROOT, "| %s | %,d | %,d | %.2f× | %s | %s | %,d (%.1f %%) | %s | %,d |", spec,
                    pushBytes, decodedBytes, ratio,
                    Double.isNaN(coldDecodeMillis) ? "—" : String.format(Locale.ROOT, "%.2f", coldDecodeMillis),
                    Double.isNaN(warmDecodeMillis) ? "—" : String.format(Locale.ROOT, "%.3f", warmDecodeMillis),
                    pullConsecutive, 100.0 * pullConsecutive / whole,
                    pullApart < 0 ? "full" : String.format(Locale.ROOT, "%,d (%.1f %%)", pullApart, 100.0 * pullApart / whole),
                    whole);
        }
    }

    static void plot(List<Result> results, Path png) throws java.io.IOException {
        CategoryChart chart = new CategoryChartBuilder().width(1000).height(520)
                .title("fmnist-mlp over loopback gRPC: bytes per push and per pull (KiB)")
                .xAxisTitle("push codec").yAxisTitle("KiB").build();
        chart.getStyler().setXAxisLabelRotation(20);
        List<String> names = results.stream().map(Result::spec).toList();
        chart.addSeries("push (wire)", names, results.stream().map(r -> r.pushBytes() / 1024.0).toList());
        chart.addSeries("pull, next version (delta)", names, results.stream().map(r -> r.pullConsecutive() / 1024.0).toList());
        chart.addSeries("pull, 3 versions apart (delta)", names,
                results.stream().map(r -> (r.pullApart() < 0 ? r.whole() : r.pullApart()) / 1024.0).toList());
        chart.addSeries("whole model", names, results.stream().map(r -> r.whole() / 1024.0).toList());
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    /** Median milliseconds of decoding {@code message} as the coordinator does, after warming up. */
    static double warmDecode(Codec codec, byte[] message, TensorMap layout) throws Exception {
        java.lang.foreign.MemorySegment m = java.lang.foreign.Arena.global().allocate(message.length, 64);
        java.lang.foreign.MemorySegment.copy(message, 0, m, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, message.length);
        dev.tributary.codec.DecodeLimits limits = dev.tributary.codec.DecodeLimits.forLayout(layout.infos());
        double[] t = new double[50];
        for (int i = -20; i < t.length; i++) {
            try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                long t0 = System.nanoTime();
                codec.decode(m, layout.infos(), limits, a);
                if (i >= 0) {
                    t[i] = (System.nanoTime() - t0) / 1e6;
                }
            }
        }
        Arrays.sort(t);
        return t[t.length / 2];
    }

    static Result run(String spec, TensorMap init, List<TensorMap> deltas, Path dir) throws Exception {
        Files.createDirectories(dir);
        CoordinatorConfig config = CoordinatorConfig.defaults("fedasync")
                .withStrategyConfig(Map.of("alpha", 0.5, "alpha_scale", "none", "max_staleness", 100));
        Codec codec = spec.equals("safetensors") ? null : Codec.parse(spec);
        String family = familyOf(codec);
        try (Coordinator c = Coordinator.start(Coordinator.netty(new InetSocketAddress("127.0.0.1", 0),
                InsecureServerCredentials.create()), dir.resolve("state"), init, config, Tokens.of(List.of(TOKEN)), m -> { })) {
            ManagedChannel channel = NettyChannelBuilder.forTarget("127.0.0.1:" + c.port(), InsecureChannelCredentials.create())
                    .maxInboundMessageSize(8 << 20).flowControlWindow(16 << 20).build();
            try (DeltaEncoder encoder = new DeltaEncoder(new WireOptions(codec, false, 4, true), 1, m -> { })) {
                CoordinatorClient client = new CoordinatorClient(channel, TOKEN);
                List<Path> versions = new ArrayList<>();
                versions.add(client.pull("bench", -1, dir.resolve("v0")).file());
                long[] pushBytes = new long[deltas.size()];
                List<Long> consecutive = new ArrayList<>();
                long apart = -1;
                long whole = 0;
                double warm = Double.NaN;
                for (int v = 0; v < deltas.size(); v++) {
                    Path file = dir.resolve("delta-" + v);
                    DeltaEncoder.Encoded e = encoder.encode(0, v, deltas.get(v), file);
                    pushBytes[v] = Files.size(file);
                    if (v == deltas.size() - 1 && codec != null) {
                        warm = warmDecode(codec, Files.readAllBytes(file), init);
                    }
                    client.push(new CoordinatorClient.Update(UUID.randomUUID().toString(), "bench", v, 100, 1, Map.of(), file,
                            e.codec()));
                    try (SafetensorsFile held = SafetensorsFile.open(versions.get(v))) {
                        CoordinatorClient.Pulled p = client.pull("bench", v, dir.resolve("v" + (v + 1)), held);
                        if (!p.delta()) {
                            throw new IllegalStateException("pull of v" + (v + 1) + " from v" + v + " was not a delta: " + p.fallback());
                        }
                        consecutive.add(p.wireBytes());
                        whole = p.bytes();
                        versions.add(p.file());
                    }
                    if (v + 1 >= 3 && v + 1 == deltas.size()) {
                        try (SafetensorsFile held = SafetensorsFile.open(versions.get(v + 1 - 3))) {
                            CoordinatorClient.Pulled p = client.pull("bench", v + 1 - 3, dir.resolve("apart"), held);
                            apart = p.delta() ? p.wireBytes() : -1;
                        }
                    }
                }
                double wire = c.metrics().wireBytes(family);
                double decoded = c.metrics().decodedBytes(family);
                double[] stats = c.metrics().decodeStats(family);
                long[] sorted = pushBytes.clone();
                Arrays.sort(sorted);
                List<Long> cs = new ArrayList<>(consecutive);
                cs.sort(null);
                return new Result(spec, sorted[sorted.length / 2], (long) (decoded / deltas.size()), decoded / wire,
                        codec == null ? Double.NaN : stats[1], warm, cs.get(cs.size() / 2), apart, whole);
            } finally {
                channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    private static String familyOf(Codec c) {
        if (c == null) {
            return "safetensors";
        }
        StringBuilder b = new StringBuilder();
        for (String part : c.spec().split("\\+")) {
            int colon = part.indexOf(':');
            b.append(b.isEmpty() ? "" : "+").append(colon < 0 ? part : part.substring(0, colon));
        }
        return b.toString();
    }

    private static TensorMap add(TensorMap a, TensorMap d) {
        TensorMap out = new TensorMap();
        for (String n : a.names()) {
            float[] x = a.tensor(n).toFloatArray();
            float[] y = d.tensor(n).toFloatArray();
            for (int i = 0; i < x.length; i++) {
                x[i] += y[i];
            }
            out.put(n, Tensor.ofFloats(a.tensor(n).shape(), x));
        }
        return out;
    }
}
