package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every kind of bad value gets one line that names the flag, the value and the rule, no stack trace, and
 * the exit status of its kind: 1 for bad input (files, ports taken, addresses that do not answer), 2 for bad
 * usage (values that break a rule on their own).
 */
class CliErrorsTest {
    @TempDir
    Path dir;

    Path folder;
    Path file;
    Path model;
    Path notSafetensors;

    @BeforeEach
    void files() throws Exception {
        folder = Files.createDirectories(dir.resolve("a-folder"));
        file = Files.writeString(dir.resolve("a-file.txt"), "hello\n");
        model = dir.resolve("init.safetensors");
        Safetensors.write(model, new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, 2)));
        notSafetensors = Files.writeString(dir.resolve("fake.safetensors"), "this is plain text, not a safetensors header");
    }

    /** Runs and checks the status and that stderr is one {@code error:} line holding every one of {@code expected}. */
    static CliRunner fails(int status, List<String> args, String... expected) {
        CliRunner r = CliRunner.run(args.toArray(String[]::new));
        assertEquals(status, r.status(), args + ": " + r.err());
        List<String> errors = r.err().lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), args + ": one error line in: " + r.err());
        for (String e : expected) {
            assertTrue(errors.getFirst().contains(e), args + ": expected \"" + e + "\" in: " + r.err());
        }
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), "no stack trace: " + r.err());
        assertTrue(r.err().lines().dropWhile(l -> !l.startsWith("error: ")).skip(1)
                .allMatch(l -> l.startsWith("(see ") || l.startsWith("did you mean")), args + ": nothing after the error: " + r.err());
        return r;
    }

    List<String> serve(String... more) {
        return with(List.of("serve", "--state", dir.resolve("state").toString(), "--init", model.toString(),
                "--strategy", "fedasync", "--port", "0", "--http-port", "0"), more);
    }

    List<String> work(String... more) {
        return with(List.of("work", "--coordinator", "127.0.0.1:1", "--token", "t", "--task", "synthetic-logreg"), more);
    }

    /** {@code base} (a command, then flags with values) with the flags of {@code more} (pairs) set or replaced. */
    static List<String> with(List<String> base, String... more) {
        java.util.LinkedHashMap<String, String> flags = new java.util.LinkedHashMap<>();
        for (int i = 1; i < base.size(); i += 2) {
            flags.put(base.get(i), base.get(i + 1));
        }
        for (int i = 0; i < more.length; i += 2) {
            flags.put(more[i], more[i + 1]);
        }
        List<String> a = new ArrayList<>(List.of(base.getFirst()));
        flags.forEach((k, v) -> {
            a.add(k);
            a.add(v);
        });
        return a;
    }

    @Test
    void aFolderWhereAFileIsExpectedAndTheReverseForEveryFileFlagOfServe() {
        fails(1, serve("--state", file.toString()), "--state " + file + ": is a file; give a folder");
        fails(1, serve("--init", folder.toString()), "--init " + folder + ": is a folder; give a file");
        fails(1, serve("--init", dir.resolve("none.safetensors").toString()), "--init " + dir.resolve("none.safetensors")
                + ": no such file");
        fails(1, serve("--tokens", folder.toString()), "--tokens " + folder + ": is a folder; give a file");
        fails(1, serve("--config", folder.toString()), "--config " + folder + ": is a folder; give a file");
        fails(1, serve("--tls-cert", folder.toString(), "--tls-key", file.toString()), "--tls-cert " + folder + ": is a folder");
        fails(1, serve("--tls-cert", file.toString(), "--tls-key", folder.toString()), "--tls-key " + folder + ": is a folder");
    }

    @Test
    void aFileThatIsNotSafetensorsAtAllIsNamed() {
        fails(1, serve("--init", notSafetensors.toString()), "--init " + notSafetensors + ": not a safetensors file");
        fails(1, serve("--init", file.toString()), "--init " + file + ": not a safetensors file");
        fails(1, List.of("inspect", notSafetensors.toString()), notSafetensors.toString());
        fails(1, List.of("inspect", dir.resolve("missing").toString()), "no such file or folder: " + dir.resolve("missing"));
    }

    @Test
    void aFolderWhereAFileIsExpectedAndTheReverseForWorkMergeAndInit() throws Exception {
        fails(1, work("--ack-log", folder.toString()), "--ack-log " + folder + ": is a folder; give a file");
        fails(1, work("--ack-log", file.resolve("acks.txt").toString()), "--ack-log " + file.resolve("acks.txt") + ": " + file
                + " is a file, not a folder");
        fails(1, work("--work-dir", file.toString()), "--work-dir " + file + ": is a file; give a folder");
        fails(1, work("--data", file.toString()), "--data " + file + ": is a file; give a folder");
        fails(1, work("--tls-ca", folder.toString()), "--tls-ca " + folder + ": is a folder; give a file");
        fails(1, List.of("init", "--task", "synthetic-logreg", "--out", folder.toString()), "--out " + folder
                + ": is a folder; give a file");
        fails(1, List.of("init", "--task", "synthetic-logreg", "--out", file.resolve("x.safetensors").toString()),
                "--out " + file.resolve("x.safetensors") + ": " + file + " is a file, not a folder");
        fails(1, List.of("merge", folder.toString(), "--out", dir.resolve("out").toString()), "CONFIG.yaml " + folder
                + ": is a folder; give a file");
        Path yaml = Files.writeString(dir.resolve("m.yaml"), "merge_method: linear\nmodels:\n  - model: init.safetensors\n");
        fails(1, List.of("merge", yaml.toString(), "--out", file.toString()), "--out " + file + ": is a file; give a folder");
        fails(1, List.of("merge", yaml.toString(), file.toString()), "OUT_DIR " + file + ": is a file; give a folder");
    }

    @Test
    void outOfRangeNumbersNameTheFlagAndAreBadUsage() {
        fails(2, serve("--port", "-1"), "--port -1: a port is between 0 and 65535");
        fails(2, serve("--port", "65536"), "--port 65536: a port is between 0 and 65535");
        fails(2, serve("--http-port", "70000"), "--http-port 70000: a port is between 0 and 65535 (0 serves no HTTP)");
        fails(2, serve("--eval-every", "0"), "--eval-every 0: must be at least 1");
        fails(2, serve("--strategy", "fedfoo"), "--strategy \"fedfoo\": expected one of");
        fails(2, work("--updates", "-1"), "--updates -1: must be at least 0");
        fails(2, work("--steps", "-5"), "--steps -5: must be at least 0");
        fails(2, work("--workers", "0"), "--workers 0: must be at least 1");
        fails(2, work("--worker", "3", "--workers", "2"), "--worker 3 --workers 2: needs 0 <= worker < workers");
        fails(2, work("--max-backoff", "0"), "--max-backoff 0.0: must be a finite number > 0");
        fails(2, work("--give-up-after", "0s"), "--give-up-after \"0s\": must be at least 1 ms");
        fails(2, work("--give-up-after", "soon"), "--give-up-after \"soon\": expected a duration");
        fails(2, List.of("learn", "--env", "CartPole-v1", "--algo", "ppo", "--state", dir.resolve("l").toString(),
                "--port", "99999"), "--port 99999: a port is between 0 and 65535");
        fails(2, List.of("demo", "--workers", "0"), "--workers 0: must be between 1 and 16");
        fails(2, List.of("demo", "--max-seconds", "-3"), "--max-seconds -3: must be at least 1");
    }

    @Test
    void aWrongAddressIsNamed() {
        fails(2, work("--coordinator", "nosuchhost"), "--coordinator \"nosuchhost\": expected HOST:PORT");
        fails(2, work("--coordinator", "nosuchhost:0"), "--coordinator \"nosuchhost:0\": port 0 is not between 1 and 65535");
        fails(2, work("--coordinator", "127.0.0.1:123456"), "port 123456 is not between 1 and 65535");
    }

    @Test
    void workGivesUpAfterTheGivenTimeNamingTheAddress() {
        long t0 = System.nanoTime();
        CliRunner r = fails(1, work("--coordinator", "nosuchhost.invalid:1", "--give-up-after", "1s"),
                "error: coordinator nosuchhost.invalid:1: no answer for ", "gave up after --give-up-after 1s");
        long millis = (System.nanoTime() - t0) / 1_000_000;
        // The upper bound is roomy: a resolver without network may take its time to say the name is unknown.
        assertTrue(millis >= 1000 && millis < 60_000, millis + " ms");
        assertTrue(r.err().startsWith("coordinator nosuchhost.invalid:1 unavailable (UNAVAILABLE: "), "says which address while it "
                + "retries: " + r.err());
    }

    @Test
    void aTokenTheCoordinatorRefusesIsNamed() throws Exception {
        try (dev.tributary.coordinator.Coordinator c = dev.tributary.coordinator.Coordinator.start(
                dev.tributary.coordinator.Coordinator.netty(new java.net.InetSocketAddress("127.0.0.1", 0),
                        io.grpc.InsecureServerCredentials.create()),
                dir.resolve("token-state"), Safetensors.readAll(model), dev.tributary.coordinator.CoordinatorConfig.defaults("fedasync"),
                dev.tributary.coordinator.auth.Tokens.of(List.of("the-right-token-0123456789")), w -> {})) {
            fails(1, work("--coordinator", "127.0.0.1:" + c.port(), "--token", "a-wrong-token-0123456789"),
                    "--token: coordinator 127.0.0.1:" + c.port() + " refused it (UNAUTHENTICATED");
        }
    }

    @Test
    void aPortInUseIsNamedForBothPortsOfServeAndLearn() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            int p = taken.getLocalPort();
            fails(1, serve("--port", Integer.toString(p)), "--port " + p + ": 127.0.0.1:" + p + " is in use by another program");
            fails(1, serve("--http-port", Integer.toString(p)), "--http-port " + p + ": 127.0.0.1:" + p + " is in use");
            // The state is free again: the coordinator that could not serve HTTP let it go.
            fails(1, serve("--http-port", Integer.toString(p)), "--http-port " + p);
            List<String> learn = List.of("learn", "--env", "CartPole-v1", "--algo", "ppo", "--state",
                    dir.resolve("learner").toString());
            List<String> grpc = new ArrayList<>(learn);
            grpc.addAll(List.of("--port", Integer.toString(p), "--http-port", "0"));
            fails(1, grpc, "--port " + p + ": 127.0.0.1:" + p + " is in use");
            List<String> http = new ArrayList<>(learn);
            http.addAll(List.of("--port", "0", "--http-port", Integer.toString(p)));
            fails(1, http, "--http-port " + p + ": 127.0.0.1:" + p + " is in use");
        }
    }
}
