package dev.tributary.cli;

import dev.tributary.coordinator.store.StateDirectory;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary log}: the ids of all accepted updates of a coordinator's state, in order. */
@Command(
        name = "log",
        mixinStandardHelpOptions = true,
        description = {"Print the id of every accepted update in a coordinator's state folder, one per line, in order.",
            "A torn last record (a write cut short by a crash, never acknowledged) is not listed."})
final class LogCommand implements Callable<Integer> {

    @Option(names = "--state", required = true, paramLabel = "DIR", description = "the coordinator's --state folder")
    Path state;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(StateDirectory.log(state))) {
            throw new UserException("no update log in " + state + " (expected " + StateDirectory.LOG + ")");
        }
        PrintWriter out = spec.commandLine().getOut();
        for (String id : StateDirectory.acceptedUpdateIds(state)) {
            out.println(id);
        }
        out.flush();
        return 0;
    }
}
