package dev.tributary.bench.merge;

import dev.tributary.merge.config.MergeRunner;

import java.nio.file.Path;

/**
 * Runs a mergekit-style YAML merge through the merge module's API, as {@code tributary merge} does but
 * without the command-line layer, for whole-process benchmarks against PyTorch scripts.
 * Usage: {@code MergeYaml CONFIG.yaml OUT_DIR}.
 */
public final class MergeYaml {
    private MergeYaml() {}

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: MergeYaml CONFIG.yaml OUT_DIR");
            System.exit(2);
        }
        long start = System.nanoTime();
        MergeRunner.Result r = MergeRunner.run(Path.of(args[0]), Path.of(args[1]), (done, total, name) -> { });
        System.out.printf("merged %d tensors into %s in %.3f s (in-process)%n", r.tensors().size(), r.outDir(),
                (System.nanoTime() - start) / 1e9);
    }
}
