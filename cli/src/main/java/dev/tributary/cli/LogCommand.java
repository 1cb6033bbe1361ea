package dev.tributary.cli;

import dev.tributary.replay.Table;
import dev.tributary.rl.learner.DurableBuffer;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.LogSalvage;
import dev.tributary.store.StateDirectory;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
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
            "With --salvage, damaged records are copied aside and replaced, and missing compacted chunks written again, "
                    + "so that the coordinator (or learner) can start again; every change, and what it drops, is printed."})
final class LogCommand implements Callable<Integer> {

    @Option(names = "--state", required = true, paramLabel = "DIR", description = "the coordinator's --state folder (or a learner's)")
    Path state;

    @Option(names = "--salvage", description = "replace damaged records (their bytes are kept beside the log) and "
            + "cut a torn tail, in the log and its compacted chunks; the coordinator (or learner) must not be running")
    boolean salvage;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.isDirectory(state)) {
            throw new UserException("--state " + state + ": not a folder");
        }
        Path log = StateDirectory.log(state);
        PrintWriter out = spec.commandLine().getOut();
        Path table = tableDir();
        if (!Files.isRegularFile(log) && table != null) {
            // A learner's state (or its experience folder): every experience item it accepted.
            if (salvage) {
                salvageTable(table, out);
            } else {
                for (String id : Table.insertedIds(table)) {
                    out.println(id);
                }
            }
            out.flush();
            return 0;
        }
        if (!Files.isRegularFile(log)) {
            throw new UserException("no update log in " + state + " (expected " + StateDirectory.LOG + ", or a learner's "
                    + DurableBuffer.DIR + "/" + Table.LOG + ")");
        }
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

    /** The experience table's folder when {@code --state} is a learner's state or that folder itself, else null. */
    private Path tableDir() {
        if (Files.isRegularFile(state.resolve(Table.LOG))) {
            return state;
        }
        Path inner = state.resolve(DurableBuffer.DIR);
        return Files.isDirectory(inner) ? inner : null;
    }

    private void salvage(Path log, PrintWriter out) throws IOException {
        salvageLocked(state, log, "coordinator", out, "update", "the model");
    }

    private void salvageTable(Path dir, PrintWriter out) throws IOException {
        salvageLocked(dir, dir.resolve(Table.LOG), "learner", out, "item", "the table");
    }

    /** Repairs {@code log} under its folder's lock (its {@code owner} must not be running) and reports it. */
    private static void salvageLocked(Path dir, Path log, String owner, PrintWriter out, String what, String holder)
            throws IOException {
        FileChannel lock;
        try {
            lock = StateDirectory.lock(dir, owner);
        } catch (IllegalStateException e) {
            throw new UserException("state " + dir + " is in use by a running " + owner + ": stop it first");
        }
        try (lock) {
            Optional<Checkpoints.Loaded> ck = new Checkpoints(dir, Integer.MAX_VALUE).newestValid(w -> { });
            long position = ck.map(Checkpoints.Loaded::logPosition).orElse(0L);
            report(LogSalvage.salvageAll(log), log, position, out, what, holder);
        }
    }

    /** One line per change the repair made, and what it costs. */
    private static void report(LogSalvage.Repair repair, Path log, long position, PrintWriter out, String what,
            String holder) {
        if (repair.intact()) {
            out.println("log " + log + " is intact: nothing changed");
            return;
        }
        String retry = "a retry of " + (what.equals("update") ? "an update" : "an item") + " accepted there would be"
                + " accepted again";
        for (CompactedLog.Restored r : repair.restored()) {
            CompactedLog.Chunk c = r.chunk();
            out.println(r.fromLog()
                    ? "wrote the missing chunk " + c.file().getFileName() + " again from the log's bytes (" + r.records()
                            + " records of offsets " + c.from() + ".." + c.to() + ")"
                    : "the chunk for offsets " + c.from() + ".." + c.to() + " was missing and its bytes are gone from the log:"
                            + " wrote " + c.file().getFileName() + " marking it salvaged; the ids accepted there are lost ("
                            + retry + ")");
        }
        for (LogSalvage.Dropped d : repair.dropped()) {
            boolean chunk = !d.file().equals(log);
            boolean inCheckpoint = chunk || d.offset() + d.length() <= position;
            out.println((chunk ? d.file().getFileName() + ": " : "") + d.describe(what) + (inCheckpoint
                    ? "; before the newest checkpoint, so " + holder + " still holds it, but " + retry
                    : d.updateId() != null || !d.cut() ? "; after the newest checkpoint: what it held is lost from " + holder : ""));
        }
    }
}
