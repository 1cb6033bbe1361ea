package dev.tributary.cli;

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
}
