package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulateCommandTest {
    @TempDir
    Path dir;

    private Path config(String extra) throws Exception {
        Path file = dir.resolve("run.yaml");
        Files.writeString(file, """
                task: synthetic-logreg
                clients: 5
                seed: 3
                speeds: {distribution: lognormal, spread: 10, median: 64}
                strategy: {name: fedbuff, buffer_size: 2}
                local: {steps: 5}
                budget: {virtual_seconds: 40}
                target: 0.8
                eval_every: 4
                """ + extra);
        return file;
    }

    @Test
    void writesTheReportAndThePlotBesideIt() throws Exception {
        Path report = dir.resolve("out/r.json");
        CliRunner r = CliRunner.run("simulate", "--config", config("").toString(), "--report", report.toString(),
                "--seed", "11");
        assertEquals(0, r.status(), r.err());
        JsonNode j = new ObjectMapper().readTree(report.toFile());
        assertEquals("fedbuff", j.get("strategy").asText());
        assertEquals(11, j.get("seed").asLong(), "--seed overrides the config");
        assertEquals(40.0, j.get("virtual_seconds").asDouble());
        assertEquals(11, j.get("curve").size());
        assertTrue(Files.size(dir.resolve("out/r.png")) > 1000, "no plot beside the report");
        assertTrue(r.out().startsWith("fedbuff on synthetic-logreg, 5 clients, seed 11: 40 virtual s"), r.out());
        assertTrue(r.out().contains("updates " + j.get("updates").asLong() + " accepted"), r.out());
    }

    @Test
    void configMistakesAreOneLineErrors() throws Exception {
        CliRunner r = CliRunner.run("simulate", "--config", config("eval_evry: 3\n").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("error: " + dir.resolve("run.yaml") + ": unknown key \"eval_evry\""), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        CliRunner missing = CliRunner.run("simulate", "--config", dir.resolve("nope.yaml").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().startsWith("error: no such file: "), missing.err());
    }

    private Path rlConfig(String extra) throws Exception {
        Path file = dir.resolve("cartpole.yaml");
        Files.writeString(file, """
                env: CartPole-v1
                mode: async
                actors: 2
                seed: 3
                speeds: {spread: 4, median: 100}
                learner: {steps_per_item: 16, batch_items: 2, hidden: [8]}
                budget: {env_steps: 320}
                target: 475
                """ + extra);
        return file;
    }

    @Test
    void anActorLearnerRunWritesItsReportAndThreePanelPlot() throws Exception {
        Path report = dir.resolve("rl/r.json");
        CliRunner r = CliRunner.run("simulate", "--config", rlConfig("").toString(), "--report", report.toString());
        assertEquals(0, r.status(), r.err());
        JsonNode j = new ObjectMapper().readTree(report.toFile());
        assertEquals("rl", j.get("workload").asText());
        assertEquals("async", j.get("mode").asText());
        assertEquals(320, j.get("env_steps").asLong());
        assertEquals(475.0, j.get("time_to_target").get("target").asDouble());
        assertTrue(j.get("time_to_target").get("virtual_seconds").isNull(), "a random policy does not reach 475");
        assertEquals(10, j.get("versions").asLong(), "320 steps in items of 16, two per training step");
        assertTrue(j.has("bytes_up") && j.get("bytes_up").asLong() > 0 && j.get("bytes_down").asLong() > 0, j.toString());
        java.awt.image.BufferedImage png = javax.imageio.ImageIO.read(dir.resolve("rl/r.png").toFile());
        assertEquals(3 * 420, png.getHeight(), "three panels");
        assertTrue(r.out().startsWith("async ppo on CartPole-v1, 2 actors, seed 3: "), r.out());
        assertTrue(r.out().contains("target 475.0 not reached"), r.out());
        CliRunner overlaid = CliRunner.run("simulate", "--config", rlConfig("").toString(), "--report",
                dir.resolve("rl/again.json").toString(), "--overlay", report.toString());
        assertEquals(0, overlaid.status(), overlaid.err());
        assertEquals(Files.readString(report).replaceAll("\"wall_seconds\" : [0-9.eE-]+", ""),
                Files.readString(dir.resolve("rl/again.json")).replaceAll("\"wall_seconds\" : [0-9.eE-]+", ""),
                "the same seed, the same report");
    }

    @Test
    void actorLearnerConfigMistakesAreOneLineErrors() throws Exception {
        Path file = rlConfig("");
        Files.writeString(file, Files.readString(file).replace("mode: async", "mode: lockstep"));
        CliRunner r = CliRunner.run("simulate", "--config", file.toString());
        assertEquals(1, r.status());
        assertEquals("error: " + file + ": mode: must be async or sync, got \"lockstep\"", r.err().strip());
        Files.writeString(file, Files.readString(file).replace("mode: lockstep", "mode: sync")
                .replace("batch_items: 2", "batch_items: 5"));
        CliRunner sync = CliRunner.run("simulate", "--config", file.toString());
        assertEquals(1, sync.status());
        assertEquals("error: " + file + ": learner: batch_items: sync mode trains on one item of every actor, so it is"
                + " 2 (actors), got 5", sync.err().strip());
        CliRunner federated = CliRunner.run("simulate", "--config", rlConfig("").toString(), "--overlay",
                writeFederatedReport().toString());
        assertEquals(1, federated.status());
        assertTrue(federated.err().contains("a federated report"), federated.err());
    }

    private Path writeFederatedReport() throws Exception {
        Path f = dir.resolve("fed.json");
        Files.writeString(f, "{\"strategy\": \"fedbuff\", \"curve\": []}");
        return f;
    }
}
