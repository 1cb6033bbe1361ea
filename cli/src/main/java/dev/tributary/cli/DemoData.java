package dev.tributary.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Makes sure Fashion-MNIST is on the machine for the demo, installing Debian's package when it can. */
final class DemoData {
    static final String PACKAGE = "dataset-fashion-mnist";

    private DemoData() {}

    static void ensure(Path dir, PrintWriter out) throws IOException, InterruptedException {
        if (present(dir)) {
            return;
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        boolean apt = Files.isExecutable(Path.of("/usr/bin/apt-get"));
        if (!root || !apt) {
            throw new UserException("Fashion-MNIST is not in " + dir + "; install it with 'sudo apt-get install " + PACKAGE
                    + "' and run the demo again");
        }
        out.println("demo: Fashion-MNIST is not in " + dir + "; installing Debian's package " + PACKAGE + " ...");
        out.flush();
        run(List.of("apt-get", "update", "-qq"));
        int rc = run(List.of("apt-get", "install", "-y", "-qq", PACKAGE));
        if (rc != 0 || !present(dir)) {
            throw new UserException("could not install " + PACKAGE + " (apt-get exit status " + rc
                    + "); install it by hand and run the demo again");
        }
    }

    private static boolean present(Path dir) {
        return Files.isDirectory(dir)
                && (Files.exists(dir.resolve("train-images-idx3-ubyte.gz")) || Files.exists(dir.resolve("train-images-idx3-ubyte")));
    }

    private static int run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor();
    }
}
