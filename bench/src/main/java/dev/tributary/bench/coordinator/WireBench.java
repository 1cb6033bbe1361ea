package dev.tributary.bench.coordinator;

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

    public static void main(String[] args) throws Exception {
        int rounds = 8;
        int steps = 50;
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "tributary-wire-bench");
        for (int i = 0; i < args.length; i += 2) {
            switch (args[i]) {
                case "--rounds" -> rounds = Integer.parseInt(args[i + 1]);
                case "--steps" -> steps = Integer.parseInt(args[i + 1]);
                case "--dir" -> dir = Path.of(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
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
        System.out.println("| codec | bytes per push (median) | decoded bytes | ratio | coordinator decode ms (mean) "
                + "| pull, consecutive versions (median) | pull, 3 versions apart | whole model |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (String spec : CODECS) {
            System.err.println("codec " + spec + ": " + rounds + " pushes and pulls over loopback...");
            System.out.println(run(spec, init, deltas, dir.resolve(spec.replaceAll("[^a-z0-9]", "_"))));
        }
    }

    static String run(String spec, TensorMap init, List<TensorMap> deltas, Path dir) throws Exception {
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
                for (int v = 0; v < deltas.size(); v++) {
                    Path file = dir.resolve("delta-" + v);
                    DeltaEncoder.Encoded e = encoder.encode(0, v, deltas.get(v), file);
                    pushBytes[v] = Files.size(file);
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
                return String.format(Locale.ROOT, "| %s | %,d | %,d | %.2f× | %s | %,d (%.1f %%) | %s | %,d |", spec,
                        sorted[sorted.length / 2], (long) (decoded / deltas.size()), decoded / wire,
                        codec == null ? "—" : String.format(Locale.ROOT, "%.2f", stats[1]),
                        cs.get(cs.size() / 2), 100.0 * cs.get(cs.size() / 2) / whole,
                        apart < 0 ? "full" : String.format(Locale.ROOT, "%,d (%.1f %%)", apart, 100.0 * apart / whole), whole);
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
