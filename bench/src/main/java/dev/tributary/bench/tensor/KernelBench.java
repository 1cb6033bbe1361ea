package dev.tributary.bench.tensor;

import dev.tributary.tensor.Conversions;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Collection;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
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
 * The SIMD kernels on inputs far larger than the caches (64 MiB of f32 each), next to a plain
 * {@link MemorySegment#copy} of the same size that measures the machine's memory bandwidth in the same
 * run. Each benchmark is one pass; its bandwidth is the bytes it reads and writes divided by its time
 * (see {@link #BYTES_TOUCHED}). Run through {@link #main} to get the GB/s table, or through the JMH
 * launcher ({@code java -jar benchmarks.jar KernelBench}) for the raw times.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx2g"})
public class KernelBench {
    /** Floats per input: 64 MiB, far past any last-level cache. */
    static final long N = 16L << 20;
    private static final long F32 = N * 4;
    private static final long HALF = N * 2;

    /** Bytes each benchmark reads plus writes in one call. */
    static final Map<String, Long> BYTES_TOUCHED = Map.ofEntries(
            Map.entry("copy", 2 * F32),
            Map.entry("read4", 4 * F32),
            Map.entry("weightedSum4", 5 * F32),
            Map.entry("axpy", 3 * F32),
            Map.entry("scale", 2 * F32),
            Map.entry("dot", 2 * F32),
            Map.entry("sum", F32),
            Map.entry("l2Norm", F32),
            Map.entry("f32ToBf16", F32 + HALF),
            Map.entry("bf16ToF32", HALF + F32),
            Map.entry("f32ToF16", F32 + HALF));

    private Arena arena;
    private MemorySegment[] xs;
    private float[] w;
    private MemorySegment out;
    private Tensor f32;
    private Tensor f32Out;
    private Tensor bf16;
    private Tensor f16;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        SplittableRandom r = new SplittableRandom(1);
        xs = new MemorySegment[4];
        for (int k = 0; k < xs.length; k++) {
            xs[k] = arena.allocate(F32, 64);
            for (long i = 0; i < N; i++) {
                xs[k].set(Tensor.F32_LE, i * 4, (float) r.nextGaussian());
            }
        }
        w = new float[] {0.1f, 0.2f, 0.3f, 0.4f};
        out = arena.allocate(F32, 64);
        f32 = Tensor.of(DType.F32, new long[] {N}, xs[0]);
        f32Out = Tensor.of(DType.F32, new long[] {N}, out);
        bf16 = Tensor.allocate(DType.BF16, new long[] {N}, arena);
        f16 = Tensor.allocate(DType.F16, new long[] {N}, arena);
        Conversions.convert(f32, bf16);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** The memory-bandwidth baseline: read 64 MiB, write 64 MiB. */
    @Benchmark
    public void copy() {
        MemorySegment.copy(xs[0], 0, out, 0, F32);
    }

    /**
     * Reads the four inputs of {@link #weightedSum4} side by side and nothing else: the most a single core
     * streams from memory with vector loads, the ceiling for any kernel that reads them.
     */
    @Benchmark
    public float read4() {
        VectorSpecies<Float> s = FloatVector.SPECIES_PREFERRED;
        FloatVector acc = FloatVector.zero(s);
        MemorySegment x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3];
        for (long off = 0; off < F32; off += s.vectorByteSize()) {
            acc = acc.add(FloatVector.fromMemorySegment(s, x0, off, ByteOrder.LITTLE_ENDIAN))
                    .add(FloatVector.fromMemorySegment(s, x1, off, ByteOrder.LITTLE_ENDIAN))
                    .add(FloatVector.fromMemorySegment(s, x2, off, ByteOrder.LITTLE_ENDIAN))
                    .add(FloatVector.fromMemorySegment(s, x3, off, ByteOrder.LITTLE_ENDIAN));
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Benchmark
    public void weightedSum4() {
        Kernels.weightedSum(xs, w, out, N);
    }

    @Benchmark
    public void axpy() {
        Kernels.axpy(1e-3f, xs[1], out, N);
    }

    @Benchmark
    public void scale() {
        Kernels.scale(out, N, 0.999f);
    }

    @Benchmark
    public double dot() {
        return Kernels.dot(xs[1], xs[2], N);
    }

    @Benchmark
    public double sum() {
        return Kernels.sum(xs[1], N);
    }

    @Benchmark
    public double l2Norm() {
        return Kernels.l2Norm(xs[2], N);
    }

    @Benchmark
    public void f32ToBf16() {
        Conversions.convert(f32, bf16);
    }

    @Benchmark
    public void bf16ToF32() {
        Conversions.convert(bf16, f32Out);
    }

    @Benchmark
    public void f32ToF16() {
        Conversions.convert(f32, f16);
    }

    /**
     * Runs every benchmark of this class (JMH options may be given, e.g. {@code -f 1 -wi 2 -i 3}) and
     * prints GB/s per kernel, from the mean time and from the best iteration, each also as a fraction
     * of the copy bandwidth. On a shared machine the best iteration is the steadier figure.
     */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cli = new CommandLineOptions(args);
        OptionsBuilder ob = new OptionsBuilder();
        ob.parent(cli);
        if (cli.getIncludes().isEmpty()) {
            ob.include(KernelBench.class.getName() + "\\.");
        }
        Collection<RunResult> results = new Runner(ob.build()).run();
        Map<String, double[]> gbs = new TreeMap<>();
        for (RunResult rr : results) {
            String name = rr.getParams().getBenchmark().substring(KernelBench.class.getName().length() + 1);
            double bytes = BYTES_TOUCHED.get(name);
            double meanMs = rr.getPrimaryResult().getScore();
            double bestMs = rr.getPrimaryResult().getStatistics().getMin();
            gbs.put(name, new double[] {meanMs, bytes / (meanMs * 1e6), bytes / (bestMs * 1e6)});
        }
        double[] copy = gbs.getOrDefault("copy", new double[] {Double.NaN, Double.NaN, Double.NaN});
        System.out.println();
        System.out.printf("%-14s %9s %10s %9s %10s %9s%n", "kernel", "mean ms", "mean GB/s", "of copy", "best GB/s", "of copy");
        gbs.forEach((name, v) -> System.out.printf("%-14s %9.2f %10.1f %8.0f%% %10.1f %8.0f%%%n",
                name, v[0], v[1], 100 * v[1] / copy[1], v[2], 100 * v[2] / copy[2]));
    }
}
