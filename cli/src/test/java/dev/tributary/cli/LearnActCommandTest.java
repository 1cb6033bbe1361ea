package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code learn} and {@code act} refuse bad input with one line and exit 1, bad usage with exit 2. */
class LearnActCommandTest {
    @TempDir
    Path dir;

    @Test
    void learnNamesAnUnknownAlgorithmOrEnvironment() {
        CliRunner r = CliRunner.run("learn", "--env", "CartPole-v1", "--algo", "dqn", "--state", dir.toString());
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().startsWith("error: --algo \"dqn\": expected one of ppo, impala"), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        r = CliRunner.run("learn", "--env", "Pong-v5", "--algo", "ppo", "--state", dir.toString());
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().contains("CartPole-v1, Acrobot-v1, Pendulum-v1"), r.err());
    }

    @Test
    void learnRefusesABadConfig() throws Exception {
        Path cfg = Files.writeString(dir.resolve("c.yaml"), "max_lag: -1\n");
        CliRunner r = CliRunner.run("learn", "--env", "CartPole-v1", "--algo", "ppo", "--state", dir.resolve("s").toString(),
                "--config", cfg.toString(), "--port", "0", "--http-port", "0");
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().contains("max_lag: must be at least 0, got -1"), r.err());
        Files.writeString(cfg, "max_lagg: 3\n");
        r = CliRunner.run("learn", "--env", "CartPole-v1", "--algo", "ppo", "--state", dir.resolve("s").toString(),
                "--config", cfg.toString());
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().contains("unknown settings [max_lagg]"), r.err());
    }

    @Test
    void missingOptionsAreBadUsage() {
        assertEquals(2, CliRunner.run("learn", "--env", "CartPole-v1").status());
        assertEquals(2, CliRunner.run("act", "--learner", "localhost:1").status());
    }

    @Test
    void actRefusesABadSlowdownOrEnvironment() {
        CliRunner r = CliRunner.run("act", "--learner", "localhost:1", "--token", "t", "--env", "CartPole-v1",
                "--slowdown", "0.5");
        assertEquals(1, r.status(), r.err());
        assertTrue(r.err().contains("--slowdown 0.5: must be a finite number >= 1"), r.err());
        r = CliRunner.run("act", "--learner", "localhost:1", "--token", "t", "--env", "Atari");
        assertEquals(1, r.status(), r.err());
    }
}
