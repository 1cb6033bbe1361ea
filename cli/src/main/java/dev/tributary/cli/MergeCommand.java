package dev.tributary.cli;

import dev.tributary.merge.config.MergeRunner;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tributary merge CONFIG.yaml --out DIR}: mergekit-style merging, streamed tensor by tensor. */
@Command(
        name = "merge",
        mixinStandardHelpOptions = true,
        description = {
            "Merge checkpoints as a mergekit-style YAML config says.",
            "",
            "Streams tensor by tensor into DIR/model.safetensors, or shards plus",
            "model.safetensors.index.json past out_shard_size.",
            "",
            "Config keys: merge_method, models[].model, models[].parameters (weight, density,",
            "gamma, epsilon, fisher, ...), base_model, parameters (normalize, lambda, t, beta,",
            "byzantine, keep, seed, ...), dtype (float32|float16|bfloat16), out_shard_size.",
            "Relative paths resolve against the config file's folder.",
            "Methods: linear, task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs,",
            "breadcrumbs_ties, slerp, model_stock, fisher, median, trimmed_mean, krum, multi_krum."
        })
final class MergeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG.yaml", description = "the merge configuration")
    Path config;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder (created)")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        if (!Files.isRegularFile(config)) {
            throw new UserException("no such config file: " + config);
        }
        if (Files.isRegularFile(out)) {
            throw new UserException("--out " + out + " is a file; give a folder");
        }
        long start = System.nanoTime();
        MergeRunner.Result result;
        try (ProgressBar bar = new ProgressBar("merge")) {
            result = MergeRunner.run(config, out, (done, total, name) -> bar.update(done, total, name));
        }
        PrintWriter o = spec.commandLine().getOut();
        o.printf("merged %d tensors into %s (%d file%s) in %s%n", result.tensors().size(), out,
                result.shards(), result.shards() == 1 ? "" : "s", Human.seconds((System.nanoTime() - start) / 1e9));
        o.flush();
        return 0;
    }
}
