package dev.tributary.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The command line of a child JVM that runs {@code tributary}, as the process tests start one. */
final class ChildJvm {
    private ChildJvm() {}

    /**
     * {@code java} of this JVM's home with the flags the launcher gives (vector API, native access), C1 only
     * (short-lived children start faster), then {@code jvmOptions}, this test's class path, {@link Main} and
     * {@code args}.
     */
    static List<String> command(List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:TieredStopAtLevel=1"));
        cmd.addAll(jvmOptions);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /**
     * The children one test starts: each runs {@code tributary} with a 256 MiB heap, its output (stdout and
     * stderr) in {@code NAME.out} of the test's folder; {@link #killAll} (from {@code @AfterEach}) kills
     * whatever is left.
     */
    static final class Children {
        private final Path dir;
        private final List<Process> started = new ArrayList<>();

        Children(Path dir) {
            this.dir = dir;
        }

        /** Starts {@code tributary args} as {@code name}, behind {@code prefix} (a wrapper command, or none). */
        Process spawn(String name, List<String> prefix, String... args) throws IOException {
            List<String> cmd = new ArrayList<>(prefix);
            cmd.addAll(command(List.of("-Xmx256m"), args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".out").toFile())
                    .start();
            started.add(p);
            return p;
        }

        /** What child {@code name} printed so far. */
        String output(String name) throws IOException {
            return Files.readString(dir.resolve(name + ".out"));
        }

        /** Children started so far. */
        int count() {
            return started.size();
        }

        void killAll() {
            started.forEach(Process::destroyForcibly);
        }
    }
}
