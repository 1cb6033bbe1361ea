package dev.tributary.bench.tensor;

import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A companion to {@link KernelBench} for shared, noisy machines: the copy baseline and the 4-input
 * weighted sum alternate call by call in one process, so both see the same background load, and the
 * best and median of many calls are reported. Same sizes and byte counts as {@link KernelBench}.
 *
 * <p>{@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.tributary.bench.tensor.InterleavedBandwidth [ROUNDS=200]}
 */
public final class InterleavedBandwidth {
    private InterleavedBandwidth() {}

    public static void main(String[] args) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        long n = KernelBench.N;
        long bytes = n * 4;
        try (Arena arena = Arena.ofConfined()) {
            SplittableRandom r = new SplittableRandom(1);
            MemorySegment[] xs = new MemorySegment[4];
            for (int k = 0; k < xs.length; k++) {
                xs[k] = arena.allocate(bytes, 64);
                for (long i = 0; i < n; i++) {
                    xs[k].set(Tensor.F32_LE, i * 4, (float) r.nextGaussian());
                }
            }
            MemorySegment out = arena.allocate(bytes, 64);
            float[] w = {0.1f, 0.2f, 0.3f, 0.4f};
            long[] copy = new long[rounds];
            long[] wsum = new long[rounds];
            for (int warm = 0; warm < 20; warm++) {
                MemorySegment.copy(xs[0], 0, out, 0, bytes);
                Kernels.weightedSum(xs, w, out, n);
            }
            for (int i = 0; i < rounds; i++) {
                long t0 = System.nanoTime();
                MemorySegment.copy(xs[0], 0, out, 0, bytes);
                long t1 = System.nanoTime();
                Kernels.weightedSum(xs, w, out, n);
                copy[i] = t1 - t0;
                wsum[i] = System.nanoTime() - t1;
            }
            Arrays.sort(copy);
            Arrays.sort(wsum);
            report("copy", 2 * bytes, copy[0], copy[rounds / 2], 2 * bytes, copy[0], copy[rounds / 2]);
            report("weightedSum4", 5 * bytes, wsum[0], wsum[rounds / 2], 2 * bytes, copy[0], copy[rounds / 2]);
        }
    }

    private static void report(String name, long bytes, long best, long median, long copyBytes, long copyBest, long copyMedian) {
        double bestGbs = (double) bytes / best;
        double medianGbs = (double) bytes / median;
        System.out.printf("%-13s best %6.1f GB/s (%3.0f%% of copy)   median %6.1f GB/s (%3.0f%% of copy)%n", name,
                bestGbs, 100 * bestGbs / ((double) copyBytes / copyBest),
                medianGbs, 100 * medianGbs / ((double) copyBytes / copyMedian));
    }
}
