package dev.tributary.cli;

import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.Tasks;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary init}: the initial model of a task, as a safetensors file. */
@Command(
        name = "init",
        mixinStandardHelpOptions = true,
        description = {"Write the initial model of a task, the file 'serve --init' starts from."})
final class InitCommand implements Callable<Integer> {

    @Option(names = "--task", required = true, paramLabel = "TASK", description = "the task, e.g. synthetic-logreg")
    String task;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "the .safetensors file to write")
    Path out;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "seed of the initial weights (default ${DEFAULT-VALUE})")
    long seed;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Task t;
        try {
            t = Tasks.byName(task);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        Args.fileToWrite("--out", out);
        TensorMap model = t.initialModel(seed);
        Safetensors.write(out, model);
        PrintWriter o = spec.commandLine().getOut();
        o.printf("wrote %s: %,d parameters in %d tensors (task %s, seed %d)%n", out, model.parameters(), model.size(), t.name(), seed);
        o.flush();
        return 0;
    }
}
