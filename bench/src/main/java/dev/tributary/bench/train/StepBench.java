package dev.tributary.bench.train;

import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.LabeledImages;
import dev.tributary.train.djl.Architecture;
import dev.tributary.train.djl.DjlTrainer;
import dev.tributary.train.djl.TrainerConfig;
import dev.tributary.worker.TrainPlan;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Time of one DJL training step of the Fashion-MNIST MLP (784-200-10, SGD lr 0.02 momentum 0.9), to
 * compare with {@code bench/baselines/train/torch_step.py}, which does the same work in PyTorch from
 * Python: gather a shuffled batch from 6,000 resident standardized images, forward, cross-entropy,
 * backward, optimizer step, accumulate the loss.
 *
 * <p>Usage: {@code StepBench [--batch 64,32] [--steps 200] [--warmup 300] [--reps 15] [--threads 2]}.
 * Prints one line per batch size with the median and the minimum over the repetitions of the
 * milliseconds per step (the minimum is the cost on a quiet machine), and the median cost per step of
 * whole {@code train} calls of 100 steps (weights copied in and the delta out each call).
 */
public final class StepBench {
    private static final int EXAMPLES = 6000;

    private StepBench() {}

    public static void main(String[] args) {
        int[] batches = {64, 32};
        int steps = 200;
        int warmup = 300;
        int reps = 15;
        int threads = 2;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--batch" -> batches = Arrays.stream(args[i + 1].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--steps" -> steps = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                case "--reps" -> reps = Integer.parseInt(args[i + 1]);
                case "--threads" -> threads = Integer.parseInt(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (expected --batch, --steps, --warmup, --reps, --threads)");
            }
        }
        // Read once, when the engine loads: before the first trainer.
        System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(threads));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        LabeledImages data = randomImages(EXAMPLES, 0);
        Architecture mlp = Architecture.fashionMlp();
        TensorMap weights = mlp.init(0);
        for (int batch : batches) {
            TrainerConfig base = TrainerConfig.fashion(mlp);
            TrainerConfig config = new TrainerConfig(mlp, base.optimizer(), batch, base.inputs());
            try (DjlTrainer trainer = new DjlTrainer(config, data)) {
                List<Double> perStep = new ArrayList<>();
                try (DjlTrainer.Run run = trainer.start(weights, 1)) {
                    for (int i = 0; i < warmup; i++) {
                        run.step();
                    }
                    for (int r = 0; r < reps; r++) {
                        long t0 = System.nanoTime();
                        for (int i = 0; i < steps; i++) {
                            run.step();
                        }
                        perStep.add((System.nanoTime() - t0) / 1e6 / steps);
                    }
                    if (!Double.isFinite(run.meanLoss())) {
                        throw new IllegalStateException("training diverged: mean loss " + run.meanLoss());
                    }
                }
                List<Double> perCall = new ArrayList<>();
                for (int r = 0; r < reps; r++) {
                    long t0 = System.nanoTime();
                    trainer.train(weights, TrainPlan.steps(100, r));
                    perCall.add((System.nanoTime() - t0) / 1e6 / 100);
                }
                System.out.printf(Locale.ROOT, "djl threads=%d batch=%d median_ms=%.4f min_ms=%.4f"
                        + " train_call_ms_per_step=%.4f reps=%s%n", threads, batch, median(perStep), min(perStep), median(perCall), format(perStep));
            }
        }
    }

    private static LabeledImages randomImages(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        byte[] pixels = new byte[n * 784];
        byte[] labels = new byte[n];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (byte) rng.nextInt(256);
        }
        for (int i = 0; i < n; i++) {
            labels[i] = (byte) rng.nextInt(10);
        }
        return new LabeledImages(28, 28, pixels, labels);
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(null);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double min(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    }

    private static String format(List<Double> xs) {
        StringBuilder b = new StringBuilder("[");
        for (double x : xs) {
            b.append(b.length() > 1 ? "," : "").append(String.format(Locale.ROOT, "%.3f", x));
        }
        return b.append(']').toString();
    }
}
