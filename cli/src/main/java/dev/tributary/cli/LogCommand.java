package dev.tributary.cli;

import dev.tributary.store.Checkpoints;
import dev.tributary.store.LogSalvage;
import dev.tributary.store.StateDirectory;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tributary log}: the ids of all accepted updates of a coordinator's state, in order; or its salvage. */
@Command(
        name = "log",
        mixinStandardHelpOptions = true,
        description = {"Print the id of every accepted update in a coordinator's state folder (or every experience item "
                + "in a learner's), one per line, in order.",
            "Every record is checked: a torn last record (a write cut short by a crash, never acknowledged) is not "
                    + "listed; a damaged record anywhere else is an error naming its offset, and nothing is listed.",
            "With --salvage, damaged records are copied aside and replaced so that the coordinator can start again; "
                    + "every change, and what it drops, is printed."})
final class LogCommand implements Callable<Integer> {

    @Option(names = "--state", required = true, paramLabel = "DIR", description = "the coordinator's --state folder")
    Path state;

    @Option(names = "--salvage", description = "replace damaged records (their bytes are kept beside the log) and "
            + "cut a torn tail; the coordinator must not be running")
    boolean salvage;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(state)) {
            throw new UserException("--state " + state + ": not a folder");
        }
        Path log = StateDirectory.log(state);
        Path experience = state.resolve(dev.tributary.rl.learner.DurableBuffer.DIR);
        if (!Files.isRegularFile(log) && Files.isDirectory(experience) && !salvage) {
            // A learner's state: the ids of every experience item it accepted.
            PrintWriter out = spec.commandLine().getOut();
            for (String id : dev.tributary.rl.learner.DurableBuffer.insertedIds(state)) {
                out.println(id);
            }
            out.flush();
            return 0;
        }
        if (!Files.isRegularFile(log)) {
            throw new UserException("no update log in " + state + " (expected " + StateDirectory.LOG + ")");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (salvage) {
            salvage(log, out);
        } else {
            for (String id : StateDirectory.acceptedUpdateIds(state)) {
                out.println(id);
            }
        }
        out.flush();
        return 0;
    }

    private void salvage(Path log, PrintWriter out) throws IOException {
        try (FileChannel lock = FileChannel.open(state.resolve(StateDirectory.LOCK), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
                FileLock held = lock.tryLock()) {
            if (held == null) {
                throw new UserException("state " + state + " is in use by a running coordinator: stop it first");
            }
            Optional<Checkpoints.Loaded> ck = new Checkpoints(state, Integer.MAX_VALUE).newestValid(w -> { });
            long position = ck.map(Checkpoints.Loaded::logPosition).orElse(0L);
            List<LogSalvage.Dropped> dropped = LogSalvage.salvage(log, dev.tributary.store.CompactedLog.end(log));
            if (dropped.isEmpty()) {
                out.println("log " + log + " is intact: nothing changed");
                return;
            }
            for (LogSalvage.Dropped d : dropped) {
                boolean inCheckpoint = d.offset() + d.length() <= position;
                out.println(d.describe() + (inCheckpoint
                        ? "; before the newest checkpoint, so the model still holds it, but a retry of its id would be applied again"
                        : d.updateId() != null || !d.cut() ? "; after the newest checkpoint: what it held is lost from the model" : ""));
            }
        }
    }
}
