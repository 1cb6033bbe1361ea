package dev.tributary.bench.codec;

import dev.tributary.codec.Codec;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Encode and decode of a 64 MiB f32 delta (16 tensors of 1 Mi gaussian values, far past the caches) on
 * one thread, per codec. Throughput is f32 input bytes (for decode: f32 output bytes) per second.
 * {@code decode} includes allocating its output (64 MiB of fresh, zeroed native memory: page faults)
 * in a confined arena; {@code decodeInto} writes into tensors allocated once. Run through
 * {@link #main} for the GB/s table.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx3g"})
public class CodecBench {
    static final int TENSORS = 16;
    static final long PER_TENSOR = 1L << 20;
    static final long F32_BYTES = 4 * TENSORS * PER_TENSOR;

    @Param({"int8", "int4", "fp4", "bf16", "f16", "fp8", "topk:fraction=0.01+int8", "lossless", "int4+lossless",
        "int8+lossless", "int4:group=256+lossless", "topk:fraction=0.01+int8+lossless"})
    public String spec;

    private Arena arena;
    private Codec codec;
    private TensorMap delta;
    private List<TensorInfo> layout;
    private DecodeLimits limits;
    private byte[] encoded;
    private TensorMap reused;

    /** The benchmark's delta: 16 tensors of 1024 × 1024 gaussian values, σ = 1e-3, seed 1. */
    static TensorMap delta(Arena arena) {
        SplittableRandom r = new SplittableRandom(1);
        TensorMap delta = new TensorMap();
        for (int t = 0; t < TENSORS; t++) {
            Tensor x = Tensor.allocate(DType.F32, new long[] {1024, PER_TENSOR / 1024}, arena);
            for (long i = 0; i < x.numel(); i++) {
                x.data().set(Tensor.F32_LE, 4 * i, (float) (r.nextGaussian() * 1e-3));
            }
            delta.put("layers." + t + ".weight", x);
        }
        return delta;
    }

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        delta = delta(arena);
        codec = Codec.parse(spec);
        layout = delta.infos();
        limits = DecodeLimits.forLayout(layout);
        encoded = codec.encode(delta);
        reused = new TensorMap();
        for (TensorInfo i : layout) {
            reused.put(i.name(), Tensor.allocate(DType.F32, i.shape(), arena));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public byte[] encode() {
        return codec.encode(delta);
    }

    @Benchmark
    public long decode() throws CodecException {
        try (Arena a = Arena.ofConfined()) {
            TensorMap m = codec.decode(java.lang.foreign.MemorySegment.ofArray(encoded), layout, limits, a);
            return m.size();
        }
    }

    /** Decode into tensors allocated once, as a receiver that reuses its buffers would. */
    @Benchmark
    public long decodeInto() throws CodecException {
        codec.decodeInto(java.lang.foreign.MemorySegment.ofArray(encoded), reused, limits);
        return reused.size();
    }

    /** Runs the benchmarks (JMH options may be given) and prints GB/s of f32 per codec and direction. */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cli = new CommandLineOptions(args);
        OptionsBuilder ob = new OptionsBuilder();
        ob.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            ob.include(CodecBench.class.getName() + "\\.");
        }
        Collection<RunResult> results = new Runner(ob.build()).run();
        Map<String, double[]> rows = new TreeMap<>();
        for (RunResult rr : results) {
            String op = rr.getParams().getBenchmark().substring(CodecBench.class.getName().length() + 1);
            String key = rr.getParams().getParam("spec") + " " + op;
            double mean = rr.getPrimaryResult().getScore();
            double best = rr.getPrimaryResult().getStatistics().getMin();
            rows.put(key, new double[] {mean, F32_BYTES / (mean * 1e6), F32_BYTES / (best * 1e6)});
        }
        System.out.println();
        System.out.printf("%-44s %9s %10s %10s%n", "codec op", "mean ms", "mean GB/s", "best GB/s");
        rows.forEach((k, v) -> System.out.printf("%-44s %9.2f %10.2f %10.2f%n", k, v[0], v[1], v[2]));
        System.out.println();
        System.out.printf("%-34s %12s %10s%n", "codec", "bytes", "f32 / it");
        try (Arena a = Arena.ofConfined()) {
            TensorMap d = delta(a);
            rows.keySet().stream().map(k -> k.substring(0, k.lastIndexOf(' '))).distinct().forEach(spec -> {
                int n = Codec.parse(spec).encode(d).length;
                System.out.printf("%-34s %12d %10.2f%n", spec, n, (double) F32_BYTES / n);
            });
        }
    }
}
