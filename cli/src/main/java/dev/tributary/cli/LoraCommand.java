package dev.tributary.cli;

import dev.tributary.merge.lora.LoraExtract;
import dev.tributary.merge.lora.LoraMerge;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary lora merge|extract}: LoRA adapters in PEFT's layout. */
@Command(
        name = "lora",
        mixinStandardHelpOptions = true,
        description = "Apply, remove or extract LoRA adapters in PEFT's layout.",
        subcommands = {LoraCommand.Merge.class, LoraCommand.Extract.class})
final class LoraCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: merge or extract");
    }

    static void requireExists(Path p, String flag) {
        if (!Files.exists(p)) {
            throw new UserException(flag + " " + p + ": no such file or folder");
        }
    }

    @Command(
            name = "merge",
            mixinStandardHelpOptions = true,
            description = {
                "Fold an adapter into its base: W + (B·A)·s, s = lora_alpha/r (alpha/√r with rsLoRA);",
                "with --unmerge, take it out again: W − (B·A)·s. DoRA adapters give m·V/‖V‖ per output,",
                "V = W + (B·A)·s, and leave the norms ‖V‖ beside the output for --unmerge. Tensors the",
                "adapter holds whole (modules_to_save, embeddings saved by save_embedding_layers)",
                "replace the base's."
            })
    static final class Merge implements Callable<Integer> {
        @Option(names = "--base", required = true, paramLabel = "B", description = "base checkpoint (file or folder)")
        Path base;

        @Option(names = "--adapter", required = true, paramLabel = "A",
                description = "adapter folder with adapter_config.json and adapter_model.safetensors")
        Path adapter;

        @Option(names = "--out", required = true, paramLabel = "O", description = "output folder")
        Path out;

        @Option(names = "--unmerge", description = "subtract the adapter instead of adding it")
        boolean unmerge;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            requireExists(base, "--base");
            requireExists(adapter, "--adapter");
            LoraMerge.Result r;
            try (ProgressBar bar = new ProgressBar(unmerge ? "unmerge" : "merge")) {
                r = LoraMerge.run(base, adapter, out, unmerge, (done, total, name) -> bar.update(done, total, name));
            }
            PrintWriter o = spec.commandLine().getOut();
            o.printf("%s %d LoRA module%s%s %s the base", unmerge ? "removed" : "merged", r.modules().size(),
                    r.modules().size() == 1 ? "" : "s", r.dora() > 0 ? " (" + r.dora() + " DoRA)" : "",
                    unmerge ? "from" : "into");
            if (!r.replaced().isEmpty()) {
                o.printf(", replaced %d tensor%s saved whole in the adapter (%s)", r.replaced().size(),
                        r.replaced().size() == 1 ? "" : "s", String.join(", ", r.replaced()));
            }
            o.printf("; wrote %d tensors to %s%n", r.tensors(), r.out());
            if (!unmerge && r.dora() > 0) {
                o.printf("DoRA weight norms (needed to unmerge): %s%n", LoraMerge.doraNormsFile(r.out()));
            }
            o.flush();
            return 0;
        }
    }

    @Command(
            name = "extract",
            mixinStandardHelpOptions = true,
            description = {
                "Extract a LoRA adapter from a fine-tuned model: truncated SVD of each 2-D delta",
                "(tuned − base), written in PEFT's layout. Prints the fraction of each delta's",
                "energy (Σσ² kept / Σσ²) the adapter captures."
            })
    static final class Extract implements Callable<Integer> {
        @Option(names = "--base", required = true, paramLabel = "B", description = "base checkpoint (file or folder)")
        Path base;

        @Option(names = "--tuned", required = true, paramLabel = "T", description = "fine-tuned checkpoint (file or folder)")
        Path tuned;

        @Option(names = "--rank", required = true, paramLabel = "R", description = "maximum adapter rank")
        int rank;

        @Option(names = "--out", required = true, paramLabel = "O", description = "output adapter folder")
        Path out;

        @Option(names = "--alpha", paramLabel = "A",
                description = "lora_alpha to write (default: the rank of each module, so the scale is 1)")
        Double alpha;

        @Option(names = "--target-modules", split = ",", paramLabel = "M",
                description = "extract only these modules (PEFT's matching: a name or a suffix after a dot), "
                        + "comma-separated; default every 2-D weight")
        List<String> targetModules = new ArrayList<>();

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            requireExists(base, "--base");
            requireExists(tuned, "--tuned");
            if (rank < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--rank " + rank + " must be at least 1");
            }
            if (alpha != null && !(alpha > 0 && Double.isFinite(alpha))) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--alpha " + alpha
                        + " must be a positive number");
            }
            LoraExtract.Result r;
            try (ProgressBar bar = new ProgressBar("extract")) {
                r = LoraExtract.run(base, tuned, rank, alpha, targetModules, out,
                        (done, total, name) -> bar.update(done, total, name));
            }
            PrintWriter o = spec.commandLine().getOut();
            for (LoraExtract.Extracted e : r.changed()) {
                if (e.kind() == LoraExtract.Kind.NOT_LOW_RANK) {
                    o.printf("%-50s  left out (not a 2-D weight)%n", e.tensor());
                } else if (e.kind() == LoraExtract.Kind.NOT_TARGETED) {
                    o.printf("%-50s  left out (not in --target-modules)%n", e.tensor());
                } else {
                    o.printf(Locale.ROOT, "%-50s  rank %3d  energy %.6f%n", e.tensor(), e.rank(), e.energy());
                }
            }
            o.printf("wrote adapter to %s%n", r.outDir());
            o.flush();
            return 0;
        }
    }
}
