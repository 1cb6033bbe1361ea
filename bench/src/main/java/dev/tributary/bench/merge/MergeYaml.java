package dev.tributary.bench.merge;

import dev.tributary.merge.config.MergeConfig;
import dev.tributary.merge.config.MergeRunner;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;

import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Runs a mergekit-style YAML merge through the merge module's API, as {@code tributary merge} does but
 * without the command-line layer, for whole-process benchmarks against PyTorch scripts, and prints where
 * the time went: loading the config, each tensor's time (the first including the plan), and the phases
 * (plan, read + compute, write, fsync + rename). With {@code --read-pass} it first reads every
 * input tensor once in a mapping of its own (the cost of the page faults and the memory traffic alone), so
 * that read and compute can be told apart.
 * Usage: {@code MergeYaml CONFIG.yaml OUT_DIR [--read-pass]}.
 */
public final class MergeYaml {
    private MergeYaml() {}

    public static void main(String[] args) {
        if (args.length < 2 || args.length > 3 || (args.length == 3 && !args[2].equals("--read-pass"))) {
            System.err.println("usage: MergeYaml CONFIG.yaml OUT_DIR [--read-pass]");
            System.exit(2);
        }
        long start = System.nanoTime();
        MergeConfig config = MergeConfig.load(Path.of(args[0]));
        if (args.length == 3) {
            double read = readPass(config);
            System.out.printf("read pass: %.3f s%n", read);
            start = System.nanoTime();
        }
        long loaded = System.nanoTime();
        long[] last = {loaded};
        StringBuilder perTensor = new StringBuilder();
        MergeRunner.Result r = MergeRunner.run(config, Path.of(args[1]), (done, total, name) -> {
            long now = System.nanoTime();
            perTensor.append(String.format(" %.2f", (now - last[0]) / 1e9));
            last[0] = now;
        });
        System.out.printf("config %.3f s; per tensor (the first includes the plan):%s%n", (loaded - start) / 1e9, perTensor);
        MergeRunner.Phases p = r.phases();
        System.out.printf("merged %d tensors into %s in %.3f s (in-process): plan %.3f s, read + compute %.3f s, "
                        + "write %.3f s, fsync + rename %.3f s%n", r.tensors().size(), r.outDir(),
                (System.nanoTime() - start) / 1e9, p.planNanos() / 1e9, p.mergeNanos() / 1e9, p.writeNanos() / 1e9,
                p.closeNanos() / 1e9);
    }

    private static double readPass(MergeConfig config) {
        Path dir = config.file().toAbsolutePath().getParent();
        Set<Path> inputs = new LinkedHashSet<>();
        config.models().forEach(m -> inputs.add(dir.resolve(m.path())));
        long start = System.nanoTime();
        double sink = 0;
        for (Path in : inputs) {
            try (TensorSource src = Checkpoint.open(in)) {
                for (TensorInfo info : src.infos()) {
                    Tensor t = src.tensor(info.name());
                    sink += Kernels.sum(t.data(), info.numel());
                }
            }
        }
        if (sink == 42.4242) {
            System.out.println("(sum " + sink + ")");
        }
        return (System.nanoTime() - start) / 1e9;
    }
}
