package dev.tributary.cli;

import dev.tributary.merge.config.MergeRunner;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tributary merge CONFIG.yaml OUT_DIR} (mergekit's order; {@code --out DIR} also works):
 * mergekit-style merging, streamed tensor by tensor, into a folder transformers loads.
 */
@Command(
        name = "merge",
        mixinStandardHelpOptions = true,
        description = {
            "Merge checkpoints as a mergekit YAML config says.",
            "",
            "Streams tensor by tensor into OUT_DIR/model.safetensors (or shards plus",
            "model.safetensors.index.json past out_shard_size), then copies config.json,",
            "generation_config.json and the tokenizer files from the base (or first) model",
            "and records the config as mergekit_config.yml.",
            "",
            "Config keys: merge_method; models[].model and models[].parameters, or",
            "slices[].sources[] with model, layer_range [first, end] and parameters;",
            "base_model; parameters; dtype and out_dtype (float32|float16|bfloat16);",
            "tokenizer_source (base or a model folder); out_shard_size.",
            "A parameter is a number, a gradient over the layers ([0, 0.5, 1]) or filters",
            "([{filter: self_attn, value: 0.5}, {value: 1}]).",
            "Relative paths resolve against the config file's folder.",
            "Methods: linear, task_arithmetic, ties, dare_linear, dare_ties, breadcrumbs,",
            "breadcrumbs_ties, della, della_linear, slerp, model_stock, fisher, median,",
            "trimmed_mean, krum, multi_krum, passthrough."
        })
final class MergeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "CONFIG.yaml", description = "the merge configuration")
    Path config;

    @Parameters(index = "1", arity = "0..1", paramLabel = "OUT_DIR", description = "output folder (created)")
    Path outDir;

    @Option(names = "--out", paramLabel = "DIR", description = "output folder (created); the same as OUT_DIR")
    Path out;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Path target = target();
        Args.existingFile("CONFIG.yaml", config);
        Args.folder(outDir != null ? "OUT_DIR" : "--out", target);
        long start = System.nanoTime();
        MergeRunner.Result result;
        try (ProgressBar bar = new ProgressBar("merge")) {
            result = MergeRunner.run(config, target, (done, total, name) -> bar.update(done, total, name));
        }
        PrintWriter o = spec.commandLine().getOut();
        o.printf("merged %d tensors into %s (%d file%s) in %s%n", result.tensors().size(), target,
                result.shards(), result.shards() == 1 ? "" : "s", Human.seconds((System.nanoTime() - start) / 1e9));
        o.flush();
        return 0;
    }

    private Path target() {
        if (outDir != null && out != null && !outDir.toAbsolutePath().normalize().equals(out.toAbsolutePath().normalize())) {
            throw new ParameterException(spec.commandLine(), "two output folders given: " + outDir + " and --out " + out
                    + "; give one");
        }
        if (outDir == null && out == null) {
            throw new ParameterException(spec.commandLine(), "no output folder: give it after the config (merge "
                    + "CONFIG.yaml OUT_DIR) or as --out DIR");
        }
        return outDir != null ? outDir : out;
    }
}
