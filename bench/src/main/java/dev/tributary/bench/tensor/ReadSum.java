package dev.tributary.bench.tensor;

import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.Conversions;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Opens a checkpoint and sums every element of every tensor in f64, printing the total: the Java side
 * of the read-and-sum comparison with {@code bench/baselines/tensor/read_sum.py}. f32 tensors are summed
 * straight from the memory mapping; other arithmetic types are converted to f32 a chunk at a time.
 * Chunks are summed in parallel (on every core unless told otherwise) and added in a fixed order, so
 * the result is deterministic.
 *
 * <p>{@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.tributary.bench.tensor.ReadSum FILE_OR_DIR [THREADS]}
 */
public final class ReadSum {
    private ReadSum() {}

    /** Elements per chunk: 16 MiB of f32, large enough to amortize scheduling, small enough to balance. */
    private static final long CHUNK = 4L << 20;

    private record Chunk(Tensor tensor, long from, long count) {}

    public static void main(String[] args) throws InterruptedException, ExecutionException {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: ReadSum CHECKPOINT [THREADS] (a .safetensors file or a checkpoint folder;"
                    + " threads default to the number of cores)");
            System.exit(2);
        }
        long t0 = System.nanoTime();
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        try (TensorSource src = Checkpoint.open(Path.of(args[0]))) {
            List<Chunk> chunks = new ArrayList<>();
            long elements = 0;
            for (String name : src.names()) {
                Tensor t = src.tensor(name);
                if (!t.dtype().isArithmetic()) {
                    continue;
                }
                for (long from = 0; from < t.numel(); from += CHUNK) {
                    chunks.add(new Chunk(t, from, Math.min(CHUNK, t.numel() - from)));
                }
                elements += t.numel();
            }
            double[] partial = new double[chunks.size()];
            if (threads == 1) {
                for (int i = 0; i < partial.length; i++) {
                    partial[i] = sum(chunks.get(i));
                }
            } else {
                try (ForkJoinPool pool = new ForkJoinPool(threads)) {
                    pool.submit(() -> IntStream.range(0, chunks.size()).parallel()
                            .forEach(i -> partial[i] = sum(chunks.get(i)))).get();
                }
            }
            double total = 0;
            for (double p : partial) {
                total += p;
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("sum=%s tensors=%d elements=%d threads=%d seconds=%.3f%n", total, src.names().size(),
                    elements, threads, seconds);
        }
    }

    private static double sum(Chunk c) {
        Tensor t = c.tensor();
        if (t.dtype() == DType.F32) {
            return Kernels.sum(t.data().asSlice(c.from() * 4, c.count() * 4), c.count());
        }
        long bytesPerElement = t.dtype().bits() / 8;
        try (Arena arena = Arena.ofConfined()) {
            Tensor in = Tensor.of(t.dtype(), new long[] {c.count()},
                    t.data().asSlice(c.from() * bytesPerElement, c.count() * bytesPerElement));
            Tensor f32 = Tensor.allocate(DType.F32, new long[] {c.count()}, arena);
            Conversions.convert(in, f32);
            MemorySegment data = f32.data();
            return Kernels.sum(data, c.count());
        }
    }
}
